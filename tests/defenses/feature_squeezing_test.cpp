// The feature-squeezing detector: its score is the L1 distance of softmax outputs, and its
// calibrated threshold gives the requested false-positive rate on the calibration data exactly
// and on fresh data from the same distribution within sampling error.
#include "defenses/feature_squeezing.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "models/model.h"
#include "models/small_cnn.h"

using namespace rampart;

namespace {

models::TransformSpec squeezer(const std::string& name, int64_t value) {
  models::TransformSpec t;
  t.name = name;
  (name == "bit_depth" ? t.bits : t.size) = value;
  return t;
}

std::shared_ptr<models::Model> cnn() {
  torch::manual_seed(11);
  auto net = std::make_shared<models::SmallCNN>(models::InputSpec{{1, 16, 16}, 0.0, 1.0}, 10);
  net->eval();
  return std::make_shared<models::ClassifierModel>(net);
}

}  // namespace

TEST_CASE("feature squeezing: the score is the largest L1 distance of the softmax outputs",
          "[defenses][detector]") {
  auto model = cnn();
  const defenses::InputTransform bits(squeezer("bit_depth", 2), 0, 1);
  const defenses::InputTransform median(squeezer("median", 2), 0, 1);
  defenses::FeatureSqueezingDetector detector({bits, median});
  const at::Tensor x = at::rand({5, 1, 16, 16});
  const at::Tensor score = detector.score(*model, x, 2, c10::Device(c10::kCPU));
  at::NoGradGuard no_grad;
  const at::Tensor p = model->forward(x).softmax(1);
  const at::Tensor d1 = (p - model->forward(bits.apply(x)).softmax(1)).abs().sum(1);
  const at::Tensor d2 = (p - model->forward(median.apply(x)).softmax(1)).abs().sum(1);
  CHECK(at::allclose(score, at::maximum(d1, d2).to(at::kDouble), 1e-6, 1e-7));
  CHECK(score.le(2.0).all().item<bool>());
  // An input the squeezer does not change scores exactly 0.
  defenses::FeatureSqueezingDetector eight_bit(
      {defenses::InputTransform(squeezer("bit_depth", 8), 0, 1)});
  const at::Tensor on_grid = (x * 255).round() / 255;
  CHECK(eight_bit.score(*model, on_grid, 5, c10::Device(c10::kCPU)).abs().max().item<double>() <
        1e-6);
}

TEST_CASE("feature squeezing: the threshold gives the requested false-positive rate",
          "[defenses][detector]") {
  CHECK(defenses::threshold_for_fpr(at::tensor({0.5, 0.1, 0.9, 0.3}, at::kDouble), 0.25) == 0.5);
  CHECK(defenses::threshold_for_fpr(at::tensor({0.5, 0.1, 0.9, 0.3}, at::kDouble), 0.0) == 0.9);
  CHECK(defenses::threshold_for_fpr(at::tensor({0.5, 0.1, 0.9, 0.3}, at::kDouble), 0.5) == 0.3);

  auto model = cnn();
  defenses::FeatureSqueezingDetector detector(
      {defenses::InputTransform(squeezer("bit_depth", 3), 0, 1),
       defenses::InputTransform(squeezer("median", 3), 0, 1)});
  const c10::Device cpu(c10::kCPU);
  torch::manual_seed(12);
  const int64_t n = 2000;
  const at::Tensor calibration = at::rand({n, 1, 16, 16});
  const at::Tensor fresh = at::rand({n, 1, 16, 16});
  for (double fpr : {0.01, 0.05, 0.2}) {
    INFO("fpr " << fpr);
    detector.calibrate(*model, calibration, fpr, 256, cpu);
    const double on_calibration =
        detector.flag(*model, calibration, 256, cpu).to(at::kDouble).mean().item<double>();
    CHECK(on_calibration == Approx(std::floor(fpr * n) / n).margin(1e-12));
    const double on_fresh =
        detector.flag(*model, fresh, 256, cpu).to(at::kDouble).mean().item<double>();
    const double sigma = std::sqrt(fpr * (1 - fpr) / n);
    CHECK(std::abs(on_fresh - fpr) < 4 * sigma);
  }
}
