#include "eval/metrics.h"

#include <ATen/ATen.h>

#include "attacks/attack_ops.h"

namespace rampart::eval {
namespace {

double fraction(const at::Tensor& flags) {
  return flags.numel() == 0 ? 0.0 : flags.to(at::kDouble).mean().item<double>();
}

// Mean and median of `values` where `mask` holds; both 0 when nothing is selected. The median
// of an even count is the mean of the two middle values.
std::pair<double, double> mean_median(const at::Tensor& values, const at::Tensor& mask) {
  const at::Tensor selected = values.masked_select(mask).to(at::kDouble);
  if (selected.numel() == 0) return {0.0, 0.0};
  const at::Tensor sorted = std::get<0>(selected.sort());
  const int64_t n = sorted.numel();
  const double median =
      n % 2 == 1 ? sorted[n / 2].item<double>()
                 : 0.5 * (sorted[n / 2 - 1].item<double>() + sorted[n / 2].item<double>());
  return {selected.mean().item<double>(), median};
}

}  // namespace

std::vector<double> per_class_accuracy(const at::Tensor& correct, const at::Tensor& labels,
                                       int64_t num_classes) {
  const at::Tensor total = at::bincount(labels.cpu(), {}, num_classes).to(at::kDouble);
  const at::Tensor hits =
      at::bincount(labels.cpu(), correct.cpu().to(at::kDouble), num_classes).to(at::kDouble);
  std::vector<double> out(static_cast<std::size_t>(num_classes), 0.0);
  for (int64_t c = 0; c < num_classes; ++c) {
    const double n = total[c].item<double>();
    out[static_cast<std::size_t>(c)] = n > 0 ? hits[c].item<double>() / n : 0.0;
  }
  return out;
}

AttackMetrics attack_metrics(const AttackOutcome& outcome, const at::Tensor& clean_correct,
                             const at::Tensor& labels, int64_t num_classes) {
  AttackMetrics m;
  m.id = outcome.id;
  m.robust_accuracy = fraction(outcome.robust);
  const at::Tensor eligible = outcome.backdoor_target >= 0
                                  ? clean_correct.logical_and(labels.ne(outcome.backdoor_target))
                                  : clean_correct;
  const at::Tensor fooled = outcome.success.logical_and(eligible);
  m.successes = fooled.sum().item<int64_t>();
  const int64_t attacked = eligible.sum().item<int64_t>();
  m.success_rate =
      attacked > 0 ? static_cast<double>(m.successes) / static_cast<double>(attacked) : 0.0;
  std::tie(m.mean_l2, m.median_l2) = mean_median(outcome.l2, fooled);
  std::tie(m.mean_linf, m.median_linf) = mean_median(outcome.linf, fooled);
  m.per_class_robust_accuracy = per_class_accuracy(outcome.robust, labels, num_classes);
  return m;
}

std::string budget_key(attacks::Norm norm, double eps) {
  return attacks::to_string(norm) + "-" + attacks::detail::format_eps(eps);
}

std::map<std::string, at::Tensor> worst_case(const std::vector<AttackOutcome>& outcomes) {
  std::map<std::string, at::Tensor> out;
  for (const auto& o : outcomes) {
    if (!o.bounded) continue;
    const std::string key = budget_key(o.norm, o.eps);
    auto it = out.find(key);
    if (it == out.end()) {
      out.emplace(key, o.robust.clone());
    } else {
      it->second.logical_and_(o.robust);
    }
  }
  return out;
}

}  // namespace rampart::eval
