#include "distributed/distributed_config.h"

#include "core/error.h"

namespace rampart::distributed {
namespace {

// Every f of the aggregation pipeline against the vectors that reach it: the workers, fewer
// after each bucketing step (ceil(n / s) buckets). A round would fail at once otherwise.
void check_pipeline_inputs(const DistributedSpec& spec, const core::ConfigNode& node) {
  if (spec.workers == 0) return;  // the launcher's RANK/WORLD_SIZE: checked per round
  const auto& a = spec.aggregator;
  int64_t n = spec.workers;
  std::string inputs = "workers = " + std::to_string(n);
  for (const auto& p : a.pre) {
    if ((p.name == "arc" || p.name == "nnm") && p.f > 0 && 2 * p.f >= n) {
      node.child("aggregator").fail_at("pre", p.name + "'s f = " + std::to_string(p.f) +
                                                  " needs 2f < " + inputs);
    }
    if (p.name == "bucketing") {
      n = (n + p.s - 1) / p.s;
      inputs = std::to_string(n) + " buckets (bucketing s = " + std::to_string(p.s) + ")";
    }
  }
  if (defenses::aggregation::takes_f(a.name) && a.f > 0 && 2 * a.f >= n) {
    node.child("aggregator").fail_at("f", "f = " + std::to_string(a.f) + " needs 2f < " + inputs);
  }
}

}  // namespace

DistributedSpec parse_distributed_spec(const core::ConfigNode& node) {
  node.expect_keys({"workers", "backend", "heterogeneity", "aggregator", "simulate_byzantine",
                    "auth", "max_norm", "timeout_seconds"});
  DistributedSpec spec;
  spec.workers = node.get_int("workers", 0, 0, 1024);
  spec.backend = node.get_choice("backend", {"gloo", "nccl"}, "gloo");
  if (spec.backend == "nccl") {
    node.fail_at("backend", "nccl is not supported: the rounds exchange authenticated update "
                            "frames over Gloo, which every libtorch build has; use backend: gloo");
  }
  spec.heterogeneity = node.get_double("heterogeneity", 1.0, 0.0, 1.0);
  if (node.has("aggregator")) {
    spec.aggregator = defenses::aggregation::parse_aggregator_spec(node.child("aggregator"));
  }
  if (const auto byz = node.optional_child("simulate_byzantine")) {
    byz->expect_keys({"count", "attack", "tau"});
    spec.byzantine.count = byz->get_int("count", 1, 0, 1024);
    spec.byzantine.attack = byz->get_choice(
        "attack", {"sign_flip", "ipm", "alie", "gaussian", "label_flip", "label_flip_own", "mimic", "inf",
                   "alie_opt", "ipm_opt"});
    const double default_tau = spec.byzantine.attack == "ipm"    ? 2.0
                               : spec.byzantine.attack == "alie" ? 1.5
                                                                 : 1.0;
    spec.byzantine.tau = byz->get_double("tau", default_tau, -1e6, 1e6);
    if (spec.byzantine.attack == "gaussian" && spec.byzantine.tau < 0) {
      byz->fail_at("tau", "gaussian's tau is the noise's standard deviation: it must be >= 0");
    }
    if (spec.workers > 0 && spec.byzantine.count >= spec.workers) {
      byz->fail_at("count", std::to_string(spec.byzantine.count) + " Byzantine of " +
                                std::to_string(spec.workers) + " workers leaves no honest one");
    }
  }
  if (const auto auth = node.optional_child("auth")) {
    auth->expect_keys({"keys"});
    spec.keys = auth->get_string("keys");
  }
  spec.max_norm = node.get_double("max_norm", 0.0, 0.0);
  spec.timeout_seconds = node.get_int("timeout_seconds", 300, 1, 86400);
  check_pipeline_inputs(spec, node);
  return spec;
}

}  // namespace rampart::distributed
