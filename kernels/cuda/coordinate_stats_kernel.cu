// CUDA twin of kernels/cpu/coordinate_stats_kernel.cpp: one thread per coordinate, the
// column's n values sorted in the thread's local array by the same Batcher network, then the
// same reductions (the mean of a rank range; the mean of the k values closest to the median).
#include <cstdint>

#include "kernels/cuda/aggregation_kernels.cuh"

namespace rampart::kernels::cuda {
namespace {

constexpr int kThreads = 128;

// Loads column j (rows `row_stride` apart) and sorts it in v with the network's pairs.
__device__ void load_sorted_column(float* v, const float* __restrict__ x, int64_t n,
                                   int64_t row_stride, int64_t j,
                                   const int32_t* __restrict__ network, int64_t pairs) {
  for (int64_t i = 0; i < n; ++i) v[i] = x[i * row_stride + j];
  for (int64_t p = 0; p < pairs; ++p) {
    const int32_t a = network[2 * p], b = network[2 * p + 1];
    const float lo = fminf(v[a], v[b]), hi = fmaxf(v[a], v[b]);
    v[a] = lo;
    v[b] = hi;
  }
}

// One thread per coordinate j: the sorted column goes to reduce(v), whose result is out[j].
template <typename Reduce>
__global__ void sorted_column_kernel(const float* __restrict__ x, int64_t n, int64_t d,
                                     int64_t row_stride, const int32_t* __restrict__ network,
                                     int64_t pairs, float* __restrict__ out, Reduce reduce) {
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j >= d) return;
  float v[kMaxAggregationWires];
  load_sorted_column(v, x, n, row_stride, j, network, pairs);
  out[j] = reduce(v);
}

// The mean of the sorted ranks lo .. hi-1.
struct RangeMean {
  int64_t lo, hi;
  __device__ float operator()(const float* v) const {
    float sum = 0.0f;
    for (int64_t r = lo; r < hi; ++r) sum += v[r];
    return sum * (1.0f / static_cast<float>(hi - lo));
  }
};

// As the CPU twin: the window [start, start + k) slides up while the entering value is strictly
// closer to the median than the leaving one.
struct MedianWindowMean {
  int64_t n, k;
  __device__ float operator()(const float* v) const {
    const float median = 0.5f * (v[(n - 1) / 2] + v[n / 2]);
    int64_t start = 0;
    for (int64_t i = 0; i + k < n; ++i) start += (v[i + k] - median < median - v[i]) ? 1 : 0;
    float sum = 0.0f;
    for (int64_t r = start; r < start + k; ++r) sum += v[r];
    return sum * (1.0f / static_cast<float>(k));
  }
};

unsigned blocks_for(int64_t d) { return static_cast<unsigned>((d + kThreads - 1) / kThreads); }

}  // namespace

cudaError_t launch_sorted_range_mean(const float* x, int64_t n, int64_t d, int64_t row_stride,
                                     int64_t lo, int64_t hi, const int32_t* network,
                                     int64_t pairs, float* out, cudaStream_t stream) {
  if (d == 0) return cudaSuccess;
  if (n > kMaxAggregationWires) return cudaErrorInvalidValue;
  sorted_column_kernel<<<blocks_for(d), kThreads, 0, stream>>>(x, n, d, row_stride, network,
                                                                pairs, out, RangeMean{lo, hi});
  return cudaGetLastError();
}

cudaError_t launch_median_window_mean(const float* x, int64_t n, int64_t d, int64_t row_stride,
                                      int64_t k, const int32_t* network, int64_t pairs,
                                      float* out, cudaStream_t stream) {
  if (d == 0) return cudaSuccess;
  if (n > kMaxAggregationWires) return cudaErrorInvalidValue;
  sorted_column_kernel<<<blocks_for(d), kThreads, 0, stream>>>(
      x, n, d, row_stride, network, pairs, out, MedianWindowMean{n, k});
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
