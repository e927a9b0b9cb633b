#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace rampart::kernels::cpu {

/// out[j] = mean of the values at sorted ranks lo .. hi-1 of x[0, j], x[1, j], ... x[n-1, j]
/// (row i of x at x + i * row_stride, row_stride >= d), sorted by applying `network` to blocks
/// of coordinates.
void sorted_range_mean(const float* x, int64_t n, int64_t d, int64_t row_stride, int64_t lo,
                       int64_t hi, const std::vector<std::pair<int32_t, int32_t>>& network,
                       float* out);

/// out[j] = mean of the k values of column j closest to its median (numpy's: the two middle
/// values averaged for an even n), read as k consecutive sorted ranks; of two equally distant
/// values at the window's edge, the smaller is kept.
void median_window_mean(const float* x, int64_t n, int64_t d, int64_t row_stride, int64_t k,
                        const std::vector<std::pair<int32_t, int32_t>>& network, float* out);

}  // namespace rampart::kernels::cpu
