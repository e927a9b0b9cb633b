#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/step_kernels.cuh"

namespace rampart::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void l2_step_kernel(float* __restrict__ x_adv, const float* __restrict__ x,
                               const float* __restrict__ g, int64_t dim, float alpha, float eps,
                               float lo, float hi) {
  __shared__ float shared[kThreads / 32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * dim;
  float* a = x_adv + base;
  const float* xs = x + base;
  const float* gs = g + base;
  float g2 = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) g2 += gs[i] * gs[i];
  const float step = alpha / fmaxf(sqrtf(block_sum(g2, shared)), 1e-12f);
  float d2 = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float d = a[i] + step * gs[i] - xs[i];
    a[i] = d;
    d2 += d * d;
  }
  const float scale = fminf(1.0f, eps / fmaxf(sqrtf(block_sum(d2, shared)), 1e-12f));
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    a[i] = fminf(fmaxf(xs[i] + a[i] * scale, lo), hi);
  }
}

}  // namespace

cudaError_t launch_l2_step(float* x_adv, const float* x, const float* g, int64_t samples,
                           int64_t dim, float alpha, float eps, float lo, float hi,
                           cudaStream_t stream) {
  if (samples == 0) return cudaSuccess;
  l2_step_kernel<<<static_cast<unsigned>(samples), kThreads, 0, stream>>>(x_adv, x, g, dim, alpha,
                                                                          eps, lo, hi);
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
