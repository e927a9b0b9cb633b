#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace rampart::distributed {

/// Splits the points with `labels` ([N] int64) among `workers` as ByzFL's benchmark does with
/// gamma_similarity_niid: a random fraction `heterogeneity` of the points is dealt out IID
/// (shuffled, equal parts), the rest sorted by label and cut into one contiguous part per
/// worker (each sees few classes). Returns each worker's point indices, all of one size (the
/// few points beyond the smallest share are left out, so that every worker runs the same
/// number of steps); no point goes to two workers. A pure function of `seed`.
std::vector<at::Tensor> shard_indices(const at::Tensor& labels, int64_t workers,
                                      double heterogeneity, uint64_t seed);

/// The points of `rank` when the last `byzantine` of `world` ranks are simulated attackers
/// (`simulate_byzantine`). As in ByzFL's benchmark, the data is split among the honest ranks
/// only, so that an honest rank trains on exactly the shard it would have in the honest-only
/// run of world - byzantine workers (the baseline of docs/distributed.md's table; were the
/// attackers given shards, the honest ranks would lose those points, and with label-sorted
/// shards whole classes). Simulated attacker k (k = 0, 1, ...) takes honest rank k's shard, so
/// that it runs the same steps and a label-flipping attacker learns from real data.
at::Tensor worker_shard(const at::Tensor& labels, int64_t world, int64_t byzantine, int64_t rank,
                        double heterogeneity, uint64_t seed);

}  // namespace rampart::distributed
