#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/config_node.h"
#include "defenses/aggregation/aggregator.h"

namespace rampart::distributed {

/// `simulate_byzantine`: the last `count` ranks attack (for evaluating a rule). sign_flip, ipm,
/// alie, alie_opt and ipm_opt compute their vector from the honest workers' updates (an
/// omniscient attacker); gaussian and inf need nothing; label_flip sends, as ByzFL's
/// LabelFlipping, the mean of the gradients the honest workers compute on labels
/// y -> K - 1 - y (every attacker the same vector); label_flip_own trains on flipped labels of
/// its own shard and sends that gradient; mimic copies honest rank 0.
struct ByzantineSpec {
  int64_t count = 0;
  std::string attack;  ///< sign_flip | ipm | alie | gaussian | label_flip | label_flip_own | mimic | inf | alie_opt | ipm_opt
  double tau = 0;      ///< ipm (2.0), alie (1.5; < 0: mean - |tau| std); gaussian's sigma (1.0)
};

/// The `distributed:` section of a train config.
///   distributed:
///     workers: 4                  # local processes; absent: RANK/WORLD_SIZE/MASTER_* from env
///     backend: gloo
///     heterogeneity: 0.5          # fraction of each shard drawn IID; the rest label-sorted
///     aggregator: {name: trimmed_mean, f: 1, pre: [nnm]}
///     simulate_byzantine: {count: 1, attack: alie, tau: 1.5}
///     auth: {keys: workers.keys}
///     max_norm: 0                 # updates with a larger L2 norm are rejected (0: no bound)
struct DistributedSpec {
  int64_t workers = 0;  ///< 0: join a job described by the environment
  std::string backend = "gloo";
  double heterogeneity = 1.0;
  defenses::aggregation::AggregatorSpec aggregator;
  ByzantineSpec byzantine;
  std::string keys;  ///< key file; empty: unauthenticated (a warning)
  double max_norm = 0;
  int64_t timeout_seconds = 300;
};

/// Parses `distributed:`; errors name the key (a Byzantine count that leaves no honest worker,
/// an aggregator f that the worker count cannot satisfy, nccl in a build without CUDA).
DistributedSpec parse_distributed_spec(const core::ConfigNode& node);

}  // namespace rampart::distributed
