#include "eval/gates.h"

#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include "core/config_node.h"
#include "core/error.h"

using namespace rampart;

namespace {

const std::vector<std::string> kIds{"fgsm-linf-0.1", "pgd-linf-0.1", "pgd-l2-0.5"};
const std::vector<std::string> kBudgets{"linf-0.1", "l2-0.5"};

std::vector<eval::Gate> gates_of(const std::string& yaml) {
  return eval::parse_gates(core::parse_config(yaml, "g.yaml"), kIds, kBudgets);
}

}  // namespace

TEST_CASE("gates pass and fail on their bounds", "[eval][gates]") {
  const auto gates = gates_of(
      "gates:\n"
      "  clean_accuracy: {min: 0.85}\n"
      "  robust_accuracy: {pgd-linf-0.1: {min: 0.7}, fgsm-linf-0.1: {max: 0.9}, worst: {min: "
      "0.5},\n"
      "                    worst-l2-0.5: {min: 0.2, max: 0.4}}\n");
  REQUIRE(gates.size() == 5);
  const std::map<std::string, double> values{{"clean", 0.9},          {"pgd-linf-0.1", 0.65},
                                             {"fgsm-linf-0.1", 0.8},  {"pgd-l2-0.5", 0.3},
                                             {"worst:linf-0.1", 0.6}, {"worst:l2-0.5", 0.3}};
  const auto results = eval::check_gates(gates, values);
  std::map<std::string, eval::GateResult> by_name;
  for (const auto& r : results) by_name.emplace(r.gate.name, r);
  CHECK(by_name.at("clean_accuracy").passed);
  CHECK(by_name.at("clean_accuracy").threshold == ">= 0.85");
  CHECK_FALSE(by_name.at("robust_accuracy.pgd-linf-0.1").passed);
  CHECK(by_name.at("robust_accuracy.pgd-linf-0.1").value == Approx(0.65));
  CHECK(by_name.at("robust_accuracy.fgsm-linf-0.1").passed);
  CHECK(by_name.at("robust_accuracy.worst").value == Approx(0.3));  // the lowest budget
  CHECK_FALSE(by_name.at("robust_accuracy.worst").passed);
  CHECK(by_name.at("robust_accuracy.worst-l2-0.5").passed);
  CHECK(by_name.at("robust_accuracy.worst-l2-0.5").threshold == "in [0.2, 0.4]");
  CHECK(gates_of("seed: 1\n").empty());
}

TEST_CASE("gate config errors are located", "[eval][gates]") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"gates: {robust_accuracy: {pgd-linf-0.3: {min: 0.5}}}\n",
       "g.yaml:1:27: gates.robust_accuracy.pgd-linf-0.3: unknown key"},
      {"gates: {clean_accuracy: {}}\n", "gates.clean_accuracy: a gate needs min, max or both"},
      {"gates: {clean_accuracy: {min: 1.5}}\n",
       "g.yaml:1:31: gates.clean_accuracy.min: must be <= 1"},
      {"gates: {clean_accuracy: {min: 0.9, max: 0.8}}\n", "min is greater than max"},
      {"gates: {clean: {min: 0.9}}\n", "g.yaml:1:9: gates.clean: unknown key 'clean'"},
      {"gates: {clean_accuracy: {minimum: 0.9}}\n", "gates.clean_accuracy.minimum: unknown key"},
      // A gate left empty (its `min:` commented out) was dropped and the run passed.
      {"gates:\n  robust_accuracy:\n    pgd-linf-0.1:\n",
       "g.yaml:3:5: gates.robust_accuracy.pgd-linf-0.1: is empty: a gate needs min, max or both"},
      {"gates: {clean_accuracy: ~}\n", "g.yaml:1:9: gates.clean_accuracy: is empty"},
      {"gates: {attack_success_rate: {fgsm-linf-0.1: }}\n",
       "gates.attack_success_rate.fgsm-linf-0.1: is empty"},
      {"gates: {robust_accuracy: }\n", "gates.robust_accuracy: is empty"},
      {"gates: {clean_accuracy: {min: , max: 0.9}}\n",
       "gates.clean_accuracy.min: is empty: give a bound or delete the key"},
  };
  for (const auto& [yaml, expected] : cases) {
    INFO(yaml);
    CHECK_THROWS_WITH(gates_of(yaml), Catch::Contains(expected));
  }
}

// Issue 15, item 6: a robust_accuracy gate on unbounded CW was accepted, although CW fools
// nearly every point given steps and its "robust accuracy" measures where the optimiser gave up.
TEST_CASE("unbounded attacks are gated on their median L2, not on robust accuracy",
          "[eval][gates]") {
  const std::vector<std::string> ids{"pgd-linf-0.1", "cw-l2"};
  const auto parse = [&](const std::string& yaml) {
    return eval::parse_gates(core::parse_config(yaml, "g.yaml"), ids, {"linf-0.1"}, {"cw-l2"});
  };
  try {
    parse("gates:\n  robust_accuracy: {cw-l2: {min: 0.1}}\n");
    FAIL("a robust_accuracy gate on cw-l2 was accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("g.yaml:2:28: gates.robust_accuracy.cw-l2: 'cw-l2' is "
                                           "unbounded") &&
                             Catch::Contains("median_l2"));
  }
  const auto gates = parse("gates:\n  median_l2: {cw-l2: {min: 1.5}}\n");
  REQUIRE(gates.size() == 1);
  CHECK(gates[0].name == "median_l2.cw-l2");
  const std::map<std::string, double> values{{"median_l2:cw-l2", 2.25}, {"cw-l2", 0.01}};
  auto results = eval::check_gates(gates, values);
  CHECK(results[0].passed);
  CHECK(results[0].value == Approx(2.25));
  CHECK_FALSE(eval::check_gates(parse("gates: {median_l2: {cw-l2: {min: 3}}}\n"), values)[0]
                  .passed);  // distances are not capped at 1
  CHECK_THROWS_WITH(parse("gates: {median_l2: {pgd-linf-0.1: {min: 3}}}\n"),
                    Catch::Contains("gates.median_l2.pgd-linf-0.1: unknown key"));
  CHECK_THROWS_WITH(eval::parse_gates(core::parse_config("gates: {median_l2: {}}\n", "g.yaml"),
                                      {"pgd-linf-0.1"}, {"linf-0.1"}),
                    Catch::Contains("needs an unbounded attack"));
}
