#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

#include "defenses/input_transforms.h"
#include "models/model.h"

namespace rampart::defenses {

/// The feature-squeezing detector (Xu, Evans and Qi, NDSS 2018): an input's score is the
/// largest L1 distance between the model's softmax on the input and on each squeezed version
/// of it (bit-depth reduction, median smoothing, ...); an input scoring above the threshold is
/// flagged as adversarial. The threshold is calibrated on clean data for a false-positive rate.
///
/// Example:
///   defenses::FeatureSqueezingDetector detector({bit_depth_1, median_2});
///   detector.calibrate(model, clean_images, 0.05, 256, device);
///   at::Tensor flagged = detector.flag(model, x);
class FeatureSqueezingDetector {
 public:
  explicit FeatureSqueezingDetector(std::vector<InputTransform> squeezers);

  /// Scores, double [N] on the CPU, computed without gradients in batches on `device`.
  at::Tensor score(models::Model& model, const at::Tensor& images, int64_t batch_size,
                   const c10::Device& device) const;

  /// Sets the threshold so that at most floor(fpr * N) of the N calibration images score
  /// above it (exactly that many when scores do not tie); returns it.
  double calibrate(models::Model& model, const at::Tensor& clean_images, double fpr,
                   int64_t batch_size, const c10::Device& device);

  /// bool [N] on the CPU: score > threshold.
  at::Tensor flag(models::Model& model, const at::Tensor& images, int64_t batch_size,
                  const c10::Device& device) const;

  double threshold() const { return threshold_; }
  void set_threshold(double threshold) { threshold_ = threshold; }
  /// "feature squeezing: bit_depth(bits=1), median(size=2)"
  std::string describe() const;

 private:
  std::vector<InputTransform> squeezers_;
  double threshold_ = 0;
};

/// The threshold for a false-positive rate on calibration scores (double [N]): the
/// (N - floor(fpr * N))-th smallest score, so floor(fpr * N) scores lie above it.
double threshold_for_fpr(const at::Tensor& scores, double fpr);

}  // namespace rampart::defenses
