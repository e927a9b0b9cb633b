#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/step_kernels.cuh"

namespace rampart::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__device__ inline float clampf(float v, float lo, float hi) { return fminf(fmaxf(v, lo), hi); }

// Linf: one thread per element; the row's step size is read per element.
__global__ void apgd_linf_kernel(float* __restrict__ a, float* __restrict__ prev,
                                 const float* __restrict__ x, const float* __restrict__ g,
                                 const float* __restrict__ eta, int64_t n, int64_t dim,
                                 float alpha, float eps, float lo, float hi) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float sign = static_cast<float>((g[i] > 0.0f) - (g[i] < 0.0f));
  const float z = clampf(clampf(a[i] + eta[i / dim] * sign, x[i] - eps, x[i] + eps), lo, hi);
  const float v = a[i] + (z - a[i]) * alpha + (a[i] - prev[i]) * (1.0f - alpha);
  prev[i] = a[i];
  a[i] = clampf(clampf(v, x[i] - eps, x[i] + eps), lo, hi);
}

// L2: one block per sample, block-wide sums for the three norms (as the CPU twin's passes).
__global__ void apgd_l2_kernel(float* __restrict__ a_all, float* __restrict__ prev_all,
                               const float* __restrict__ x_all, const float* __restrict__ g_all,
                               const float* __restrict__ eta, int64_t dim, float alpha, float eps,
                               float lo, float hi) {
  __shared__ float shared[kThreads / 32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * dim;
  float* a = a_all + base;
  float* prev = prev_all + base;
  const float* x = x_all + base;
  const float* g = g_all + base;
  float g2 = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) g2 += g[i] * g[i];
  const float step = eta[blockIdx.x] / (sqrtf(block_sum(g2, shared)) + 1e-12f);
  float u2 = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float u = a[i] + step * g[i] - x[i];
    u2 += u * u;
  }
  const float un = sqrtf(block_sum(u2, shared));
  const float s1 = fminf(eps, un) / (un + 1e-12f);
  float v2 = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float z = clampf(x[i] + (a[i] + step * g[i] - x[i]) * s1, lo, hi);
    const float v = a[i] + (z - a[i]) * alpha + (a[i] - prev[i]) * (1.0f - alpha) - x[i];
    prev[i] = a[i];
    a[i] = v;
    v2 += v * v;
  }
  const float vn = sqrtf(block_sum(v2, shared));
  const float s2 = fminf(eps, vn) / (vn + 1e-12f);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) a[i] = clampf(x[i] + a[i] * s2, lo, hi);
}

// One block per sample: the per-sample decisions are read by every thread, thread 0 writes the
// per-sample state after the rows are copied.
__global__ void apgd_track_kernel(float* __restrict__ x_best, float* __restrict__ grad_best,
                                  float* __restrict__ loss_best, float* __restrict__ x_best_adv,
                                  bool* __restrict__ fooled, float* __restrict__ loss_prev,
                                  int32_t* __restrict__ increases, const float* __restrict__ x_adv,
                                  const float* __restrict__ grad, const float* __restrict__ loss,
                                  const bool* __restrict__ fooled_now, int64_t dim) {
  const int64_t s = blockIdx.x;
  const int64_t base = s * dim;
  const bool improved = loss[s] > loss_best[s];
  const bool now = fooled_now[s];
  if (improved || now) {
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
      if (improved) {
        x_best[base + i] = x_adv[base + i];
        grad_best[base + i] = grad[base + i];
      }
      if (now) x_best_adv[base + i] = x_adv[base + i];
    }
  }
  __syncthreads();  // every thread has read loss_best[s] before thread 0 writes it
  if (threadIdx.x == 0) {
    if (improved) loss_best[s] = loss[s];
    increases[s] += loss[s] > loss_prev[s] ? 1 : 0;
    loss_prev[s] = loss[s];
    if (now) fooled[s] = true;
  }
}

}  // namespace

cudaError_t launch_apgd_step(float* x_adv, float* x_prev, const float* x, const float* g,
                             const float* eta, int64_t samples, int64_t dim, float alpha, float eps,
                             float lo, float hi, bool l2, cudaStream_t stream) {
  if (samples == 0 || dim == 0) return cudaSuccess;
  if (l2) {
    apgd_l2_kernel<<<static_cast<unsigned>(samples), kThreads, 0, stream>>>(
        x_adv, x_prev, x, g, eta, dim, alpha, eps, lo, hi);
  } else {
    const int64_t n = samples * dim;
    const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
    apgd_linf_kernel<<<blocks, kThreads, 0, stream>>>(x_adv, x_prev, x, g, eta, n, dim, alpha,
                                                      eps, lo, hi);
  }
  return cudaGetLastError();
}

cudaError_t launch_apgd_track(float* x_best, float* grad_best, float* loss_best, float* x_best_adv,
                              bool* fooled, float* loss_prev, int32_t* increases,
                              const float* x_adv, const float* grad, const float* loss,
                              const bool* fooled_now, int64_t samples, int64_t dim,
                              cudaStream_t stream) {
  if (samples == 0) return cudaSuccess;
  apgd_track_kernel<<<static_cast<unsigned>(samples), kThreads, 0, stream>>>(
      x_best, grad_best, loss_best, x_best_adv, fooled, loss_prev, increases, x_adv, grad, loss,
      fooled_now, dim);
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
