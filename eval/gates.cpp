#include "eval/gates.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace rampart::eval {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "(none)" : out;
}

// `upper`: the largest bound allowed (1 for an accuracy, none for a distance).
Gate parse_bounds(const core::ConfigNode& node, std::string name, std::string metric,
                  double upper = 1.0) {
  node.expect_keys({"min", "max"});
  node.expect_no_empty_values("is empty: give a bound or delete the key");
  Gate gate{std::move(name), std::move(metric), std::nullopt, std::nullopt};
  if (node.has("min")) gate.min = node.get_double("min", std::nullopt, 0.0, upper);
  if (node.has("max")) gate.max = node.get_double("max", std::nullopt, 0.0, upper);
  if (!gate.min && !gate.max) node.fail("a gate needs min, max or both");
  if (gate.min && gate.max && *gate.min > *gate.max) node.fail("min is greater than max");
  return gate;
}

std::string threshold_text(const Gate& gate) {
  std::ostringstream out;
  if (gate.min && gate.max) {
    out << "in [" << *gate.min << ", " << *gate.max << "]";
  } else if (gate.min) {
    out << ">= " << *gate.min;
  } else {
    out << "<= " << *gate.max;
  }
  return out.str();
}

}  // namespace

std::vector<Gate> parse_gates(const core::ConfigNode& root,
                              const std::vector<std::string>& attack_ids,
                              const std::vector<std::string>& budgets,
                              const std::vector<std::string>& unbounded_ids,
                              const std::vector<std::string>& backdoor_ids) {
  std::vector<Gate> gates;
  const auto section = root.optional_child("gates");
  if (!section) return gates;
  section->expect_keys({"clean_accuracy", "robust_accuracy", "median_l2", "attack_success_rate"});
  // A gate left empty (its `min:` line commented out) would otherwise vanish and pass.
  const std::string empty = "is empty: a gate needs min, max or both (delete the key to drop it)";
  section->expect_no_empty_values(empty);
  for (const char* kind : {"robust_accuracy", "median_l2", "attack_success_rate"}) {
    if (const auto gates_of_kind = section->optional_child(kind)) {
      gates_of_kind->expect_no_empty_values(empty);
    }
  }
  // Behind a transform without a useful gradient every attack has a BPDA twin (`X-bpda`); X's own
  // number is what a gradient through the transform finds, which overstates robustness (the
  // JPEG model of docs/defenses.md: 89.0% under plain PGD, 7.1% under its twin). A gate on it
  // would pass CI on a defence that buys nothing: refused, naming what to gate instead.
  const auto refuse_masked = [&](const core::ConfigNode& gates_of_kind, const std::string& kind) {
    for (const auto& id : attack_ids) {
      const std::string twin = id + "-bpda";
      if (!gates_of_kind.has(id) ||
          std::find(attack_ids.begin(), attack_ids.end(), twin) == attack_ids.end()) {
        continue;
      }
      gates_of_kind.fail_at(
          id, "'" + id + "' attacks through a model transform without a useful gradient, so its "
              "number overstates robustness: gate its BPDA twin '" + twin + "'" +
              (kind == "robust_accuracy" ? " or the budget's worst case (worst-<budget>)" : "") +
              " instead");
    }
  };
  for (const char* kind : {"robust_accuracy", "median_l2", "attack_success_rate"}) {
    if (const auto gates_of_kind = section->optional_child(kind)) refuse_masked(*gates_of_kind, kind);
  }
  if (const auto clean = section->optional_child("clean_accuracy")) {
    gates.push_back(parse_bounds(*clean, "clean_accuracy", "clean"));
  }
  if (const auto robust = section->optional_child("robust_accuracy")) {
    std::vector<std::string> allowed = attack_ids;
    allowed.push_back("worst");
    for (const auto& id : backdoor_ids) {
      if (robust->has(id)) {
        robust->fail_at(id, "'" + id + "' is a backdoor trigger: gate the share of points it "
                                "sends to its target instead (gates: {attack_success_rate: {" +
                                id + ": {max: ...}}})");
      }
    }
    for (const auto& budget : budgets) allowed.push_back("worst-" + budget);
    for (const auto& id : unbounded_ids) {
      if (robust->has(id)) {
        robust->fail_at(id, "'" + id +
                                "' is unbounded: it fools nearly every point given enough "
                                "steps, so its robust accuracy measures where the optimiser "
                                "gave up, not robustness; gate its perturbation size instead "
                                "(gates: {median_l2: {" + id + ": {min: ...}}})");
      }
    }
    robust->expect_keys(allowed);
    if (budgets.empty() && robust->has("worst")) {
      robust->fail_at("worst", "a worst-case gate needs at least one bounded attack (fgsm or pgd)");
    }
    for (const auto& key : allowed) {
      const auto node = robust->optional_child(key);
      if (!node) continue;
      std::string metric = key;
      if (key == "worst") metric = "worst";
      if (key.rfind("worst-", 0) == 0) metric = "worst:" + key.substr(6);
      gates.push_back(parse_bounds(*node, "robust_accuracy." + key, metric));
    }
  }
  if (const auto distances = section->optional_child("median_l2")) {
    if (unbounded_ids.empty()) {
      distances->fail("a median_l2 gate needs an unbounded attack (cw); configure one first");
    }
    distances->expect_keys(unbounded_ids);
    for (const auto& id : unbounded_ids) {
      if (const auto node = distances->optional_child(id)) {
        gates.push_back(parse_bounds(*node, "median_l2." + id, "median_l2:" + id, 1e300));
      }
    }
  }
  if (const auto rates = section->optional_child("attack_success_rate")) {
    rates->expect_keys(attack_ids);
    for (const auto& id : attack_ids) {
      if (const auto node = rates->optional_child(id)) {
        gates.push_back(parse_bounds(*node, "attack_success_rate." + id, "success_rate:" + id));
      }
    }
  }
  return gates;
}

std::vector<GateResult> check_gates(const std::vector<Gate>& gates,
                                    const std::map<std::string, double>& values) {
  std::vector<GateResult> out;
  for (const auto& gate : gates) {
    double value = 0;
    if (gate.metric == "worst") {
      value = std::numeric_limits<double>::infinity();
      for (const auto& [key, v] : values) {
        if (key.rfind("worst:", 0) == 0) value = std::min(value, v);
      }
      if (value == std::numeric_limits<double>::infinity()) {
        throw std::invalid_argument("gate " + gate.name + ": no worst-case value was measured");
      }
    } else {
      auto it = values.find(gate.metric);
      if (it == values.end()) {
        std::vector<std::string> keys;
        for (const auto& kv : values) keys.push_back(kv.first);
        throw std::invalid_argument("gate " + gate.name + ": no measured value '" + gate.metric +
                                    "' (have: " + join(keys) + ")");
      }
      value = it->second;
    }
    // NaN (nothing measured) fails every bound.
    const bool passed = !std::isnan(value) && (!gate.min || value >= *gate.min) &&
                        (!gate.max || value <= *gate.max);
    out.push_back({gate, value, passed, threshold_text(gate)});
  }
  return out;
}

}  // namespace rampart::eval
