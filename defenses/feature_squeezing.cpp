#include "defenses/feature_squeezing.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace rampart::defenses {

FeatureSqueezingDetector::FeatureSqueezingDetector(std::vector<InputTransform> squeezers)
    : squeezers_(std::move(squeezers)) {
  if (squeezers_.empty()) throw std::invalid_argument("feature squeezing needs a squeezer");
}

at::Tensor FeatureSqueezingDetector::score(models::Model& model, const at::Tensor& images,
                                           int64_t batch_size, const c10::Device& device) const {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const at::Tensor x = images.slice(0, start, start + batch_size).to(device);
    const at::Tensor p = at::softmax(model.forward(x), 1);
    at::Tensor worst = at::zeros({x.size(0)}, p.options());
    for (const auto& squeezer : squeezers_) {
      const at::Tensor q = at::softmax(model.forward(squeezer.apply(x)), 1);
      worst = at::maximum(worst, (p - q).abs().sum(1));
    }
    parts.push_back(worst.to(at::kCPU, at::kDouble));
  }
  return parts.empty() ? at::zeros({0}, at::kDouble) : at::cat(parts);
}

double threshold_for_fpr(const at::Tensor& scores, double fpr) {
  const int64_t n = scores.numel();
  if (n == 0) throw std::invalid_argument("calibrating a detector needs at least one point");
  const auto allowed = static_cast<int64_t>(std::floor(fpr * static_cast<double>(n)));
  const at::Tensor sorted = std::get<0>(scores.to(at::kDouble).sort());
  return sorted[std::max<int64_t>(0, n - 1 - allowed)].item<double>();
}

double FeatureSqueezingDetector::calibrate(models::Model& model, const at::Tensor& clean_images,
                                           double fpr, int64_t batch_size,
                                           const c10::Device& device) {
  threshold_ = threshold_for_fpr(score(model, clean_images, batch_size, device), fpr);
  return threshold_;
}

at::Tensor FeatureSqueezingDetector::flag(models::Model& model, const at::Tensor& images,
                                          int64_t batch_size, const c10::Device& device) const {
  return score(model, images, batch_size, device).gt(threshold_);
}

std::string FeatureSqueezingDetector::describe() const {
  std::string out = "feature squeezing: ";
  for (std::size_t i = 0; i < squeezers_.size(); ++i) {
    out += (i ? ", " : "") + squeezers_[i].describe();
  }
  return out;
}

}  // namespace rampart::defenses
