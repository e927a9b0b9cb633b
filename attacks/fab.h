#pragma once

#include <torch/arg.h>

#include "attacks/attack.h"

namespace rampart::attacks {

/// Options of FAB, the fast adaptive boundary attack (Croce & Hein 2020, "Minimally distorted
/// adversarial examples with a fast adaptive boundary attack"), with the paper's and AutoAttack's
/// defaults; the reference is fra31/auto-attack (fab_base.py, fab_projections.py).
///
/// Example:
///   auto result = attacks::fab(model, x, y, FABOptions(8.0 / 255).target_classes(9));  // FAB-T
struct FABOptions {
  explicit FABOptions(double eps) : eps_(eps) {}
  /// The budget: a point counts as fooled when FAB finds an example within eps.
  TORCH_ARG(double, eps);
  TORCH_ARG(Norm, norm) = Norm::kLinf;
  TORCH_ARG(int64_t, steps) = 100;
  /// Runs per target class; the first starts at x, later ones at a random point of the
  /// eps/2-ball.
  TORCH_ARG(int64_t, restarts) = 1;
  /// FAB-T: k > 0 aims at each of the k most likely other classes in turn (by the clean logits);
  /// 0 is untargeted FAB, which linearises every class (one backward pass per class per step).
  TORCH_ARG(int64_t, target_classes) = 9;
  TORCH_ARG(double, alpha_max) = 0.1;
  TORCH_ARG(double, eta) = 1.05;
  TORCH_ARG(double, beta) = 0.9;
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(uint64_t, stream) = 0;
  TORCH_ARG(double, clip_min) = 0.0;
  TORCH_ARG(double, clip_max) = 1.0;
};

/// Throws ConfigError for eps < 0, steps < 1, restarts < 1, target_classes < 0, alpha_max
/// outside [0, 1], eta < 1, beta outside (0, 1) or an empty box.
void validate(const FABOptions& options);

/// FAB's projection, per row: the smallest step d (in `norm`) with w . (t + d) = b and
/// lo <= t + d <= hi, for points t [N, D], normals w [N, D] and offsets b [N]. Where the box
/// makes the hyperplane unreachable, the step that reaches it ignoring the box. Both norms reduce
/// to finding lambda with sum_i a_i min(lambda, r_i) = |b - w . t| (Linf: a = |w|, r the room to
/// the box; L2: a = w^2, r the multiplier at which a coordinate meets the box), solved by one
/// sort and cumulative sums.
at::Tensor fab_projection(const at::Tensor& points, const at::Tensor& w, const at::Tensor& b,
                          Norm norm, double lo, double hi);

/// FAB (FAB-T with target_classes > 0): each step linearises the decision boundary at the
/// iterate, projects both the iterate and x onto it, and moves to a biased combination of the
/// two; a point keeps its smallest adversarial example and leaves the batch once that is within
/// eps (a smaller one cannot change its verdict). Success: an example within eps that fools the
/// model, confirmed by one final forward.
AttackResult fab(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                 const FABOptions& options, const at::Tensor& point_ids = {});

/// FAB behind the Attack interface. id(): `fab-t-linf-0.1` (targeted) or `fab-linf-0.1`.
class FAB : public Attack {
 public:
  explicit FAB(FABOptions options);
  AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids = {}) const override;
  std::string id() const override;
  const FABOptions& options() const { return options_; }

 private:
  FABOptions options_;
};

}  // namespace rampart::attacks
