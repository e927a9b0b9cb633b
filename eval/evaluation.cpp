#include "eval/evaluation.h"

#include <algorithm>

namespace rampart::eval {

int64_t Evaluation::gates_failed() const {
  return std::count_if(gates.begin(), gates.end(), [](const GateResult& g) { return !g.passed; });
}

int64_t Evaluation::sanity_flagged() const {
  return std::count_if(sanity.begin(), sanity.end(),
                       [](const SanityCheck& c) { return c.flagged; });
}

int Evaluation::exit_code() const {
  return gates_failed() > 0 || (strict && sanity_flagged() > 0) ? 1 : 0;
}

std::vector<CurvePoint> robustness_curve(const Evaluation& evaluation) {
  std::vector<CurvePoint> points;
  for (const auto& a : evaluation.attacks) {
    if (!a.bounded) continue;
    const std::string& family = a.family.empty() ? a.name : a.family;
    points.push_back({family + "-" + attacks::to_string(a.norm), a.eps, a.metrics.robust_accuracy});
  }
  std::stable_sort(points.begin(), points.end(), [](const CurvePoint& x, const CurvePoint& y) {
    return x.family != y.family ? x.family < y.family : x.eps < y.eps;
  });
  return points;
}

}  // namespace rampart::eval
