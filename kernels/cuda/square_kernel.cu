#include "kernels/cuda/philox_block.cuh"
#include "kernels/cuda/step_kernels.cuh"
#include "kernels/noise.h"

namespace rampart::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__device__ inline float clampf(float v, float lo, float hi) { return fminf(fmaxf(v, lo), hi); }

// One thread per element.
__global__ void square_linf_start_kernel(float* __restrict__ out, const float* __restrict__ x,
                                         const int64_t* __restrict__ ids, int64_t n,
                                         int64_t channels, int64_t height, int64_t width,
                                         float eps, float lo, float hi, uint64_t key) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t plane = height * width, dim = channels * plane;
  const int64_t s = i / dim, c = (i % dim) / plane, col = i % width;
  const int64_t k = c * width + col;
  uint32_t block[4];
  philox_block(noise::point_key(key, ids[s]), noise::kStripeSubsequence + static_cast<uint64_t>(k / 128),
               block);
  out[i] = clampf(x[i] + eps * noise::sign_bit(block, k % 128), lo, hi);
}

// One thread per element; each redraws its point's window (a Philox block is cheap).
__global__ void square_linf_proposal_kernel(float* __restrict__ out,
                                            const float* __restrict__ x_best,
                                            const float* __restrict__ x,
                                            const int64_t* __restrict__ ids, int64_t n,
                                            int64_t channels, int64_t height, int64_t width,
                                            int64_t side, int64_t iteration, float eps, float lo,
                                            float hi, uint64_t key) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t plane = height * width, dim = channels * plane;
  const int64_t s = i / dim, c = (i % dim) / plane, row = (i % plane) / width, col = i % width;
  const uint64_t stream = noise::point_key(key, ids[s]);
  uint32_t block[4];
  philox_block(stream, static_cast<uint64_t>(iteration), block);
  const int64_t top = noise::below(block[0], height - side + 1);
  const int64_t left = noise::below(block[1], width - side + 1);
  if (row < top || row >= top + side || col < left || col >= left + side) {
    out[i] = x_best[i];
    return;
  }
  philox_block(stream,
               static_cast<uint64_t>(iteration) + static_cast<uint64_t>(c / 128 + 1) * noise::kSignGroup,
               block);
  const float step = 2.0f * eps * noise::sign_bit(block, c % 128);
  out[i] = clampf(clampf(x_best[i] + step, x[i] - eps, x[i] + eps), lo, hi);
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

}  // namespace

cudaError_t launch_square_linf_start(float* out, const float* x, const int64_t* ids,
                                     int64_t samples, int64_t channels, int64_t height,
                                     int64_t width, float eps, float lo, float hi, uint64_t key,
                                     cudaStream_t stream) {
  const int64_t n = samples * channels * height * width;
  if (n == 0) return cudaSuccess;
  square_linf_start_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, x, ids, n, channels, height,
                                                                   width, eps, lo, hi, key);
  return cudaGetLastError();
}

cudaError_t launch_square_linf_proposal(float* out, const float* x_best, const float* x,
                                        const int64_t* ids, int64_t samples, int64_t channels,
                                        int64_t height, int64_t width, int64_t side,
                                        int64_t iteration, float eps, float lo, float hi,
                                        uint64_t key, cudaStream_t stream) {
  const int64_t n = samples * channels * height * width;
  if (n == 0) return cudaSuccess;
  square_linf_proposal_kernel<<<blocks_for(n), kThreads, 0, stream>>>(
      out, x_best, x, ids, n, channels, height, width, side, iteration, eps, lo, hi, key);
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
