#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config_node.h"

namespace rampart::eval {

/// One CI gate: a measured value with a lower and/or upper bound.
struct Gate {
  std::string name;  ///< "clean_accuracy", "robust_accuracy.pgd-linf-0.1", "robust_accuracy.worst"
  /// Key into the measured values: "clean", an attack id, "worst", "worst:<budget>" or
  /// "median_l2:<attack id>".
  std::string metric;
  std::optional<double> min, max;
};

/// A gate's verdict, as the terminal summary, report.md and junit.xml state it.
struct GateResult {
  Gate gate;
  double value = 0;
  bool passed = false;
  std::string threshold;  ///< ">= 0.7", "<= 0.2", "in [0.5, 0.9]"
};

/// Reads `gates:`:
///   gates:
///     clean_accuracy: {min: 0.85}
///     robust_accuracy: {pgd-linf-0.1: {min: 0.70}, worst: {min: 0.65}, worst-linf-0.1: {min: 0.6}}
///     median_l2: {cw-l2: {min: 1.5}}
///     attack_success_rate: {backdoor-patch-to-3: {max: 0.05}, pgd-linf-0.1: {max: 0.3}}
/// `attack_ids` are the configured attacks; a gate on any other id, on an unknown budget,
/// without min or max, or with an accuracy bound outside [0, 1] is a ConfigError with
/// file:line:column. `worst` is the lowest worst-case robust accuracy over all budgets.
/// `unbounded_ids` are the attacks that minimise the perturbation (cw-l2): their robust
/// accuracy counts where the optimiser gave up, not robustness, so a robust_accuracy gate on
/// one is refused; `median_l2` gates the median L2 distance of their adversarial examples
/// (over the points they fool) instead, in input units. `backdoor_ids` are the backdoor
/// entries: gate their attack success rate (`attack_success_rate`, the share of the attacked
/// points fooled, for any attack id) rather than a robust accuracy.
std::vector<Gate> parse_gates(const core::ConfigNode& root,
                              const std::vector<std::string>& attack_ids,
                              const std::vector<std::string>& budgets,
                              const std::vector<std::string>& unbounded_ids = {},
                              const std::vector<std::string>& backdoor_ids = {});

/// Checks every gate against the measured values ("clean", attack ids, "worst:<budget>",
/// "median_l2:<attack id>", "success_rate:<attack id>").
std::vector<GateResult> check_gates(const std::vector<Gate>& gates,
                                    const std::map<std::string, double>& values);

}  // namespace rampart::eval
