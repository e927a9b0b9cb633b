#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace rampart::defenses::poisoning {

/// What one neighbour search did: the cells it split the references into and the
/// query-reference distances it computed (a plain search computes Q x M).
struct NeighbourSearchStats {
  int64_t cells = 0;
  int64_t distances = 0;
};

/// The exact `k` nearest `reference` rows ([M, d], Euclidean) of each `query` row ([Q, d]),
/// excluding the reference row whose index `query_index` names (the point itself; -1: none), as
/// reference indices int64 [Q, k], nearest first.
///
/// The references are split into Voronoi cells by a few rounds of k-means (one cell per ~512
/// references, none under 4,096); the queries of a cell are searched together in blocks of 64,
/// cell by cell in the order of a lower bound on their distance to the cell (the larger of the
/// bisector-plane bound and the cell radius bound), and the search of a block stops at the
/// first cell whose bound exceeds every row's k-th distance so far. Clustered features (a
/// trained network's) skip most cells; no cell is ever skipped that could hold a neighbour, so
/// the result is that of a search of all Q x M distances (ties aside). Never holds the Q x M
/// matrix: each thread's distance tile is 64 x 2,048.
///   Example: nearest_neighbours(x, at::arange(n), x, 20)  // each point's 20 others
at::Tensor nearest_neighbours(const at::Tensor& query, const at::Tensor& query_index,
                              const at::Tensor& reference, int64_t k,
                              NeighbourSearchStats* stats = nullptr);

/// The labels of nearest_neighbours(query, query_index, reference, k), int64 [Q, k].
at::Tensor nearest_labels(const at::Tensor& query, const at::Tensor& query_index,
                          const at::Tensor& reference, const at::Tensor& reference_labels,
                          int64_t k);

}  // namespace rampart::defenses::poisoning
