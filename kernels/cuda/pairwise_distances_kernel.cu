// CUDA twin of kernels/cpu/pairwise_distances_kernel.cpp: squared L2 distances between the n
// rows of x, for Krum, Multi-Krum, NNM, MDA and CAF over a round's updates (n small, d up to
// millions). One block per (pair i < j, slab of coordinates): each thread squares the float32
// differences of its coordinates and accumulates them in float64 (the CPU twin sums float32
// over 256 coordinates, then in float64), the block reduces in float64, and one atomicAdd per
// block adds the slab's sum to out[i, j] and out[j, i]. Reads each pair's rows once: 2(n-1)
// passes over x in all, memory-bound and fine for the n of a round (n <= 256).
#include <cstdint>

#include "kernels/cuda/aggregation_kernels.cuh"

namespace rampart::kernels::cuda {
namespace {

constexpr int kThreads = 256;
// Enough blocks per pair to fill a GPU at n = 12 (66 pairs x 64 slabs), few enough that each
// thread still covers dozens of coordinates at d ~ 1M.
constexpr int64_t kMaxSlabs = 64;
constexpr int64_t kMinCoordinatesPerThread = 32;

__global__ void pair_distance_kernel(const float* __restrict__ x, int64_t n, int64_t d,
                                     int64_t row_stride, double* __restrict__ out) {
  // blockIdx.x enumerates the ordered pairs (i, j) of an n x n grid; i >= j does nothing.
  const int64_t i = blockIdx.x / n, j = blockIdx.x % n;
  if (i >= j) return;
  const float* __restrict__ a = x + i * row_stride;
  const float* __restrict__ b = x + j * row_stride;
  double sum = 0.0;
  const int64_t stride = static_cast<int64_t>(gridDim.y) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x; k < d; k += stride) {
    const float diff = a[k] - b[k];
    sum += static_cast<double>(diff * diff);
  }
  __shared__ double partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) partial[warp] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < kThreads / 32; ++w) total += partial[w];
    atomicAdd(out + i * n + j, total);
    atomicAdd(out + j * n + i, total);
  }
}

}  // namespace

cudaError_t launch_pairwise_sq_distances(const float* x, int64_t n, int64_t d, int64_t row_stride,
                                         double* out, cudaStream_t stream) {
  if (n > kMaxAggregationWires) return cudaErrorInvalidValue;
  cudaError_t status = cudaMemsetAsync(out, 0, sizeof(double) * n * n, stream);
  if (status != cudaSuccess || n < 2 || d == 0) return status;
  int64_t slabs = (d + kThreads * kMinCoordinatesPerThread - 1) / (kThreads * kMinCoordinatesPerThread);
  slabs = slabs < 1 ? 1 : (slabs > kMaxSlabs ? kMaxSlabs : slabs);
  const dim3 grid(static_cast<unsigned>(n * n), static_cast<unsigned>(slabs));
  pair_distance_kernel<<<grid, kThreads, 0, stream>>>(x, n, d, row_stride, out);
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
