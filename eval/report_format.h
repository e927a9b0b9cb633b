#pragma once

// Small formatting helpers shared by the report writers.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "attacks/attack_ops.h"
#include "core/markup.h"
#include "eval/evaluation.h"

namespace rampart::eval::detail {

/// 0.8734 -> "87.34%"
inline std::string percent(double fraction, int decimals = 2) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f%%", decimals, fraction * 100.0);
  return text;
}

/// A number with `digits` significant digits ("0.0123", "1.5").
inline std::string number(double value, int digits = 4) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*g", digits, value);
  return text;
}

/// "Linf eps 0.1", "L2 eps 1.5" or "L2, minimal" (CW).
inline std::string budget_text(const AttackReport& a) {
  const std::string norm = a.norm == attacks::Norm::kLinf ? "Linf" : "L2";
  if (a.backdoor_target >= 0) return "trigger, to class " + std::to_string(a.backdoor_target);
  return a.bounded ? norm + " eps " + attacks::detail::format_eps(a.eps) : norm + ", minimal";
}

/// The attack's id, with "(after <earlier ids>)" when the cascade ran it on their survivors.
inline std::string attack_label(const AttackReport& a) {
  std::string out = a.metrics.id;
  for (std::size_t i = 0; i < a.after.size(); ++i) {
    out += (i == 0 ? " (after " : ", ") + a.after[i];
  }
  return a.after.empty() ? out : out + ")";
}

/// What a backdoor entry's success rate is, one line per entry, or "" when none ran.
inline std::string backdoor_note(const Evaluation& ev) {
  std::string out;
  for (const auto& a : ev.attacks) {
    if (a.backdoor_target < 0) continue;
    out += a.metrics.id + " stamps the trigger (" + a.trigger + ") on the " +
           std::to_string(a.attacked) + " clean-correct points of classes other than " +
           std::to_string(a.backdoor_target) +
           "; its success rate is the attack success rate, the share of them the model then "
           "puts in class " + std::to_string(a.backdoor_target) + ".\n";
  }
  return out;
}

/// The cascade's explanation under the summary table, or "" when no attack was cascaded.
inline std::string cascade_note(const Evaluation& ev) {
  bool any = false;
  for (const auto& a : ev.attacks) any = any || !a.after.empty();
  if (!ev.cascade || !any) return "";
  return "Cascade: an attack marked \"after X\" ran only on the points still robust to X (the "
         "attacked column). Its robust accuracy is cumulative, the worst case over X and it; "
         "its success rate (of all clean-correct points) and its L2/Linf statistics count only "
         "the points it fooled among those. Set cascade: false for every attack's standalone "
         "numbers.";
}

/// `render(digits)` from `digits` on, with as many more digits as it takes for the text, read
/// back (divided by `divisor`), to pass or fail the gate as its value did: 69.998% is not shown as
/// "70.00%" beside ">= 0.7 FAIL".
template <class Render>
std::string gate_rendering(const GateResult& g, int digits, double divisor, Render render) {
  const auto passes = [&](double v) {
    return (!g.gate.min || v >= *g.gate.min) && (!g.gate.max || v <= *g.gate.max);
  };
  for (int d = digits; d < 17; ++d) {
    const std::string text = render(d);
    if (passes(std::strtod(text.c_str(), nullptr) / divisor) == g.passed) return text;
  }
  return render(17);
}

/// A gate's measured value: a percentage for accuracies, a number for distances (median_l2).
inline std::string gate_value(const GateResult& g) {
  if (std::isnan(g.value)) return "not measured";  // a success rate of no attacked point
  if (g.gate.metric.rfind("median_l2:", 0) == 0) {
    return gate_rendering(g, 4, 1.0, [&](int d) { return number(g.value, d); });
  }
  return gate_rendering(g, 2, 100.0, [&](int d) { return percent(g.value, d); });
}

/// "pass" / "FAIL" for gates; "ok" / "WARN" (or "FAIL" under --strict) for sanity checks.
inline std::string sanity_verdict(const SanityCheck& check, bool strict) {
  return check.flagged ? (strict ? "FAIL" : "WARN") : "ok";
}

using core::escape_markup;

}  // namespace rampart::eval::detail
