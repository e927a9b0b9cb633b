#include <algorithm>

#include "kernels/cuda/step_kernels.cuh"

namespace rampart::kernels::cuda {
namespace {

__global__ void linf_step_kernel(float* __restrict__ x_adv, const float* __restrict__ x,
                                 const float* __restrict__ g, int64_t n, float alpha, float eps,
                                 float lo, float hi) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    const float gi = g[i];
    const float sign = static_cast<float>((gi > 0.0f) - (gi < 0.0f));
    const float xi = x[i];
    const float delta = fminf(fmaxf(x_adv[i] + alpha * sign - xi, -eps), eps);
    x_adv[i] = fminf(fmaxf(xi + delta, lo), hi);
  }
}

}  // namespace

cudaError_t launch_linf_step(float* x_adv, const float* x, const float* g, int64_t n, float alpha,
                             float eps, float lo, float hi, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 8);
  linf_step_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(x_adv, x, g, n, alpha,
                                                                           eps, lo, hi);
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
