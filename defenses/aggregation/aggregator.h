#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "defenses/aggregation/robust_rules.h"

namespace rampart::defenses::aggregation {

/// One pre-aggregation step: clipping (c), arc (f), nnm (f) or bucketing (s).
struct PreAggregatorSpec {
  std::string name;
  double c = 2.0;     ///< clipping: the norm bound (ByzFL's default)
  int64_t f = 0;      ///< arc, nnm: Byzantine workers tolerated (the rule's f unless given)
  int64_t s = 2;      ///< bucketing: bucket size
};

/// The `distributed.aggregator` section:
///   aggregator: {name: trimmed_mean, f: 2, pre: [clipping, nnm], momentum: 0.9}
/// name: mean | median | trimmed_mean | krum | multi_krum | geometric_median | centered_clipping
///       | mda | meamed | caf.
struct AggregatorSpec {
  std::string name = "mean";
  int64_t f = 0;
  double tau = 100.0;       ///< centered_clipping: the clipping radius
  int64_t iterations = 0;   ///< centered_clipping (1) and geometric_median (3); 0: the default
  double nu = 0.1;          ///< geometric_median: the smoothing floor
  double momentum = 0.0;    ///< worker momentum (m <- beta m + (1 - beta) g), applied by workers
  std::vector<PreAggregatorSpec> pre;
};

/// Whether the rule `name` takes f, the number of Byzantine workers it tolerates (trimmed_mean,
/// krum, multi_krum, mda, meamed, caf); the others' f only feeds an arc or nnm pre-step.
bool takes_f(const std::string& name);

/// Parses `aggregator:` (a mapping; `pre` lists names or {name, parameter} mappings). Errors
/// name the key.
AggregatorSpec parse_aggregator_spec(const core::ConfigNode& node);

/// "trimmed_mean(f=2) after clipping(c=2), nnm(f=2)".
std::string describe(const AggregatorSpec& spec);

/// The configured pipeline: pre-aggregators in order, then the rule. Copies are independent
/// (a copy of a centered-clipping aggregator keeps its own centre), so an omniscient attacker
/// can try candidate attacks on a copy without moving the real one.
///
/// Example:
///   aggregation::RobustAggregator aggregate(spec, /*seed=*/0);
///   const at::Tensor update = aggregate(updates);  // [n, d] -> [d]
class RobustAggregator {
 public:
  explicit RobustAggregator(AggregatorSpec spec, uint64_t seed = 0);
  RobustAggregator(const RobustAggregator& other);
  RobustAggregator& operator=(const RobustAggregator& other);
  /// `known_byzantine`: senders already known to be Byzantine and left out of `x` (their
  /// authenticated frames carried non-finite values): at most f - known_byzantine of the
  /// rows left can be Byzantine, so every f of the pipeline is lowered by that many (not below
  /// 0). Without it one rejected sender would leave fewer than the 2f + 1 rows the rules need.
  at::Tensor operator()(const at::Tensor& x, int64_t known_byzantine = 0);
  const AggregatorSpec& spec() const { return spec_; }
  /// The fewest vectors the pipeline accepts: 2f + 1 for a rule or step taking f, else 1; with
  /// f lowered by `known_byzantine` as operator() lowers it.
  int64_t min_inputs(int64_t known_byzantine = 0) const;
  /// Centered clipping's centre (undefined for the other rules), for checkpoints.
  at::Tensor centre() const;
  void set_centre(const at::Tensor& centre);

 private:
  AggregatorSpec spec_;
  std::optional<CenteredClipping> clipping_;
  at::Generator generator_;  // bucketing's permutations
};

}  // namespace rampart::defenses::aggregation
