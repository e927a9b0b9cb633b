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

}  // namespace rampart::distributed
