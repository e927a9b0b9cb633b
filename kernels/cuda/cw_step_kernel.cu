#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/step_kernels.cuh"

namespace rampart::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void cw_step_kernel(float* __restrict__ w, float* __restrict__ m, float* __restrict__ v,
                               float* __restrict__ best, float* __restrict__ best_l2,
                               const float* __restrict__ grad, const float* __restrict__ x_adv,
                               const float* __restrict__ x, const bool* __restrict__ hit,
                               const bool* __restrict__ moving, int64_t dim, float lr, float bias1,
                               float bias2) {
  __shared__ float shared[kThreads / 32];
  const int64_t s = blockIdx.x;
  const int64_t base = s * dim;
  if (hit[s]) {  // uniform per block: every thread takes the same branch
    float d2 = 0.0f;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
      const float d = x_adv[base + i] - x[base + i];
      d2 += d * d;
    }
    const float l2 = sqrtf(block_sum(d2, shared));
    if (l2 < best_l2[s]) {
      for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) best[base + i] = x_adv[base + i];
      __syncthreads();  // every thread has read the old best_l2
      if (threadIdx.x == 0) best_l2[s] = l2;
    }
  }
  if (moving[s]) {
    const float one_minus_b1 = static_cast<float>(1.0 - 0.9);
    const float one_minus_b2 = static_cast<float>(1.0 - 0.999);
    for (int64_t i = base + threadIdx.x; i < base + dim; i += blockDim.x) {
      const float g = grad[i];
      const float mi = m[i] * 0.9f + g * one_minus_b1;
      const float vi = v[i] * 0.999f + g * g * one_minus_b2;
      m[i] = mi;
      v[i] = vi;
      w[i] -= lr * (mi / bias1) / (sqrtf(vi / bias2) + 1e-8f);
    }
  }
}

}  // namespace

cudaError_t launch_cw_step(float* w, float* m, float* v, float* best, float* best_l2,
                           const float* grad, const float* x_adv, const float* x, const bool* hit,
                           const bool* moving, int64_t samples, int64_t dim, float lr, float bias1,
                           float bias2, cudaStream_t stream) {
  if (samples == 0) return cudaSuccess;
  cw_step_kernel<<<static_cast<unsigned>(samples), kThreads, 0, stream>>>(
      w, m, v, best, best_l2, grad, x_adv, x, hit, moving, dim, lr, bias1, bias2);
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
