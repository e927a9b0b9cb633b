#pragma once

#include <cstdint>

namespace rampart::kernels::cpu {

/// out[i * n + j] = sum_k (x[i, k] - x[j, k])^2 for row-major x [n, d]; out is [n, n] float64.
void pairwise_sq_distances(const float* x, int64_t n, int64_t d, double* out);

}  // namespace rampart::kernels::cpu
