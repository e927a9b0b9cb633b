#include <algorithm>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/philox_block.cuh"
#include "kernels/cuda/step_kernels.cuh"
#include "kernels/noise.h"

namespace rampart::kernels::cuda {
namespace {

constexpr int kThreads = 256;

// Linf: one thread per (point, Philox block of four elements).
__global__ void linf_random_start_kernel(float* __restrict__ out, const float* __restrict__ x,
                                         const int64_t* __restrict__ ids, int64_t samples,
                                         int64_t dim, float eps, float lo, float hi,
                                         uint64_t key) {
  const int64_t per_sample = (dim + 3) / 4;
  const int64_t blocks = samples * per_sample;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < blocks;
       j += stride) {
    const int64_t s = j / per_sample, b = j % per_sample;
    uint32_t block[4];
    philox_block(noise::point_key(key, ids[s]), static_cast<uint64_t>(b), block);
    for (int k = 0; k < 4 && 4 * b + k < dim; ++k) {
      const int64_t i = s * dim + 4 * b + k;
      const float delta = eps * (2.0f * noise::uniform(block[k]) - 1.0f);
      out[i] = fminf(fmaxf(x[i] + delta, lo), hi);
    }
  }
}

// L2: one CUDA block per point.
__global__ void l2_random_start_kernel(float* __restrict__ out, const float* __restrict__ x,
                                       const int64_t* __restrict__ ids, int64_t dim, float eps,
                                       float lo, float hi, uint64_t key) {
  __shared__ float shared[kThreads / 32];
  const int64_t sample = blockIdx.x;
  const int64_t base = sample * dim;
  const uint64_t stream = noise::point_key(key, ids[sample]);
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    uint32_t block[4];
    philox_block(stream, static_cast<uint64_t>(i / 4), block);
    const float z = noise::normal_of_block(block, static_cast<int>(i % 4));
    out[base + i] = z;
    squares += z * z;
  }
  const float norm = sqrtf(block_sum(squares, shared));
  uint32_t block[4];
  philox_block(stream, noise::kRadiusSubsequence, block);
  const float radius = powf(noise::uniform(block[0]), 1.0f / static_cast<float>(dim));
  const float scale = eps * radius / fmaxf(norm, 1e-12f);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    out[base + i] = fminf(fmaxf(x[base + i] + scale * out[base + i], lo), hi);
  }
}

}  // namespace

cudaError_t launch_linf_random_start(float* out, const float* x, const int64_t* ids,
                                     int64_t samples, int64_t dim, float eps, float lo, float hi,
                                     uint64_t key, cudaStream_t stream) {
  if (samples == 0 || dim == 0) return cudaSuccess;
  const int64_t groups = samples * ((dim + 3) / 4);
  const int64_t blocks = std::min<int64_t>((groups + kThreads - 1) / kThreads, 65535 * 8);
  linf_random_start_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      out, x, ids, samples, dim, eps, lo, hi, key);
  return cudaGetLastError();
}

cudaError_t launch_l2_random_start(float* out, const float* x, const int64_t* ids, int64_t samples,
                                   int64_t dim, float eps, float lo, float hi, uint64_t key,
                                   cudaStream_t stream) {
  if (samples == 0) return cudaSuccess;
  l2_random_start_kernel<<<static_cast<unsigned>(samples), kThreads, 0, stream>>>(
      out, x, ids, dim, eps, lo, hi, key);
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
