#pragma once

// CUDA twins of the aggregation kernels (kernels/coordinate_stats.h, kernels/pairwise_distances.h): raw
// pointers on a caller-given stream, so this compiles with nvcc anywhere. `x` holds n rows of d
// float32 coordinates, row i at x + i * row_stride; `network` the sorting network's pairs
// (int32 a, b interleaved, on the device). Each returns the launch status.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rampart::kernels::cuda {

/// The most rows the twins sort (each thread keeps its column in a local array this long).
constexpr int64_t kMaxAggregationWires = 256;

/// out[j] = mean of the sorted ranks lo .. hi-1 of column j.
cudaError_t launch_sorted_range_mean(const float* x, int64_t n, int64_t d, int64_t row_stride,
                                     int64_t lo, int64_t hi, const int32_t* network,
                                     int64_t pairs, float* out, cudaStream_t stream);

/// out[j] = mean of the k values of column j closest to its median (the smaller on ties).
cudaError_t launch_median_window_mean(const float* x, int64_t n, int64_t d, int64_t row_stride,
                                      int64_t k, const int32_t* network, int64_t pairs,
                                      float* out, cudaStream_t stream);

/// out[i * n + j] = sum_k (x[i, k] - x[j, k])^2, float64 [n, n] with a zero diagonal (the CUDA
/// twin of kernels/pairwise_distances.h); n <= kMaxAggregationWires.
cudaError_t launch_pairwise_sq_distances(const float* x, int64_t n, int64_t d, int64_t row_stride,
                                         double* out, cudaStream_t stream);

}  // namespace rampart::kernels::cuda
