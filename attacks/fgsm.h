#pragma once

#include <torch/arg.h>

#include "attacks/attack.h"

namespace rampart::attacks {

/// Options of the fast gradient sign method (Goodfellow et al. 2015, "Explaining and
/// Harnessing Adversarial Examples") and its L2 variant, the fast gradient method.
///
/// Example:
///   auto result = attacks::fgsm(model, x, y, FGSMOptions(0.1).norm(Norm::kLinf));
struct FGSMOptions {
  explicit FGSMOptions(double eps) : eps_(eps) {}
  TORCH_ARG(double, eps);
  TORCH_ARG(Norm, norm) = Norm::kLinf;
  TORCH_ARG(Loss, loss) = Loss::kCrossEntropy;
  /// Move toward `labels` (targets) instead of away from them.
  TORCH_ARG(bool, targeted) = false;
  TORCH_ARG(double, clip_min) = 0.0;
  TORCH_ARG(double, clip_max) = 1.0;
};

/// Throws ConfigError for eps < 0 or an empty box.
void validate(const FGSMOptions& options);

/// One step of size eps along sign(grad) (Linf) or grad / ||grad||_2 (L2), clipped to the box.
AttackResult fgsm(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                  const FGSMOptions& options);

/// FGSM behind the Attack interface. id(): `fgsm-linf-0.1`, `fgsm-l2-1.5`.
class FGSM : public Attack {
 public:
  explicit FGSM(FGSMOptions options);
  AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids = {}) const override;
  std::string id() const override;
  const FGSMOptions& options() const { return options_; }

 private:
  FGSMOptions options_;
};

}  // namespace rampart::attacks
