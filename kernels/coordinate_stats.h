#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace rampart::kernels {

/// Per coordinate of `x` ([n, d], one row per worker), the mean of the sorted values at ranks
/// lo .. hi-1 (0-based, ascending):
///
///   out[j] = mean(sort(x[:, j])[lo:hi])
///
/// The coordinate-wise median is ranks (n-1)/2 .. n/2 (the two middle values averaged for an
/// even n, as numpy.median), the trimmed mean ranks f .. n-f. Values must be finite or +-inf
/// (NaN has no rank: validate updates first). float32 with n <= 256 takes the fused twin: on
/// the CPU a sorting network applied to blocks of coordinates, whose min/max steps vectorize; on
/// CUDA (a CUDA build) the same network, one thread per coordinate; other dtypes the ATen
/// reference.
///
/// Example:
///   const at::Tensor median = kernels::sorted_range_mean(updates, (n - 1) / 2, n / 2 + 1);
at::Tensor sorted_range_mean(const at::Tensor& x, int64_t lo, int64_t hi);

/// The same as ATen ops (sort along dim 0, slice, mean): the reference.
at::Tensor sorted_range_mean_reference(const at::Tensor& x, int64_t lo, int64_t hi);

/// Per coordinate of `x` ([n, d]), the mean of the k values closest to the coordinate's median
/// (numpy.median: the two middle values averaged for an even n), 1 <= k <= n. Meamed (Xie et
/// al. 2018) is k = n - f. Of two values equally far from the median at the edge of the k, the
/// smaller is kept (ByzFL's numpy.argpartition leaves that choice to its selection algorithm).
/// Values must be finite. float32 with n <= 256 takes the fused twins of sorted_range_mean (the
/// same sorting network; the k closest values are k consecutive sorted ranks, found by sliding
/// the window up while the entering value is strictly closer than the leaving one); otherwise
/// the reference.
at::Tensor median_window_mean(const at::Tensor& x, int64_t k);

/// ByzFL's formulation as ATen ops: per coordinate the values sorted, |value - median|, the k
/// smallest by a stable sort (so the smaller value on ties), averaged. The reference.
at::Tensor median_window_mean_reference(const at::Tensor& x, int64_t k);

/// Batcher's odd-even merge sorting network for n wires: compare-exchange pairs (a, b), a < b,
/// that sort any n values when applied in order (min to a, max to b). O(n log^2 n) pairs.
std::vector<std::pair<int32_t, int32_t>> sorting_network(int64_t n);

}  // namespace rampart::kernels
