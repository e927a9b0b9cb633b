#include "defenses/poisoning/feature_extraction.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <stdexcept>

namespace rampart::defenses::poisoning {

at::Tensor extract_features(models::Classifier& model, const at::Tensor& images,
                            int64_t batch_size, const c10::Device& device,
                            const std::string& layer) {
  if (batch_size < 1) throw std::invalid_argument("extract_features: batch_size must be >= 1");
  if (layer != "penultimate" && layer != "logits") {
    throw std::invalid_argument("extract_features: layer must be penultimate or logits");
  }
  const bool was_training = model.is_training();
  model.eval();
  at::NoGradGuard no_grad;
  at::Tensor out;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const at::Tensor batch = images.slice(0, start, start + batch_size).to(device, at::kFloat);
    const at::Tensor f = (layer == "logits" ? model.forward(batch) : model.features(batch))
                             .flatten(1)
                             .to(at::kCPU, at::kFloat);
    if (!out.defined()) out = at::empty({images.size(0), f.size(1)}, at::kFloat);
    out.slice(0, start, start + f.size(0)).copy_(f);
  }
  model.train(was_training);
  return out.defined() ? out : at::empty({0, 0}, at::kFloat);
}

}  // namespace rampart::defenses::poisoning
