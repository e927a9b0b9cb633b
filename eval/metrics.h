#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "attacks/attack.h"

namespace rampart::eval {

/// One attack's outcome over all evaluated points (clean-incorrect points included as not
/// robust and not attacked).
struct AttackOutcome {
  std::string id;  ///< e.g. pgd-linf-0.1
  attacks::Norm norm = attacks::Norm::kLinf;
  double eps = 0;       ///< budget; 0 for unbounded attacks (cw-l2)
  bool bounded = true;  ///< false for CW: not part of any budget's worst case
  /// A backdoor entry's target class (-1 otherwise): its success rate counts only the
  /// clean-correct points of other classes, the ones it runs on.
  int64_t backdoor_target = -1;
  at::Tensor robust;    ///< bool [N]: correct clean and under this attack
  at::Tensor success;   ///< bool [N]: fooled (false where not attacked)
  at::Tensor l2, linf;  ///< float [N]: perturbation norms (0 where not attacked)
  double seconds = 0;
  int64_t forward_samples = 0, backward_samples = 0;
  /// An ensemble's parts (AutoAttack), in the order they ran; empty for a single attack.
  std::vector<std::string> components;
  /// With components: int64 [N], the index of the component that fooled each point, -1 where
  /// none did or the point was not attacked.
  at::Tensor fooled_by;
};

/// Summary numbers of one attack, as report.json states them.
struct AttackMetrics {
  std::string id;
  double robust_accuracy = 0;  ///< robust points / all evaluated points
  /// fooled / clean-correct (0 when none is clean-correct); a backdoor's: sent to the target /
  /// clean-correct points of other classes (its attack success rate)
  double success_rate = 0;
  int64_t successes = 0;
  double mean_l2 = 0, median_l2 = 0, mean_linf = 0, median_linf = 0;  ///< over successes
  std::vector<double> per_class_robust_accuracy;  ///< robust / points of each class
};

/// Computes one attack's metrics. `clean_correct` is bool [N]; `labels` int64 [N].
AttackMetrics attack_metrics(const AttackOutcome& outcome, const at::Tensor& clean_correct,
                             const at::Tensor& labels, int64_t num_classes);

/// Accuracy per class: correct / points of that class (0 for a class without points).
std::vector<double> per_class_accuracy(const at::Tensor& correct, const at::Tensor& labels,
                                       int64_t num_classes);

/// Budget key "<norm>-<eps>" (e.g. "linf-0.1") of a bounded attack.
std::string budget_key(attacks::Norm norm, double eps);

/// Worst-case robustness per budget: per point, robust only if robust under every bounded
/// attack of that norm and eps (the minimum over attacks). Returns budget key -> bool [N].
std::map<std::string, at::Tensor> worst_case(const std::vector<AttackOutcome>& outcomes);

}  // namespace rampart::eval
