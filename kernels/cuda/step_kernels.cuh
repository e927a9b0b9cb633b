#pragma once

// CUDA twins of the fused attack updates: raw-pointer launchers on a caller-given stream, so
// this file compiles with nvcc on any machine (no libtorch). Each returns the launch status
// (cudaGetLastError) for the caller to check.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace rampart::kernels::cuda {

/// The Linf step of kernels/linf_step.h on contiguous float32 arrays of `n` elements.
cudaError_t launch_linf_step(float* x_adv, const float* x, const float* g, int64_t n,
                             float alpha, float eps, float lo, float hi, cudaStream_t stream);

/// The L2 step of kernels/l2_step.h on `samples` contiguous rows of `dim` float32 elements:
/// one block per sample, block-wide reductions for the two norms.
cudaError_t launch_l2_step(float* x_adv, const float* x, const float* g, int64_t samples,
                           int64_t dim, float alpha, float eps, float lo, float hi,
                           cudaStream_t stream);

/// One Carlini-Wagner iteration of kernels/cw_step.h on `samples` contiguous rows of `dim`
/// float32 elements (w, m, v, best updated in place; best_l2, hit, moving per sample): one
/// block per sample, the L2 distance by a block reduction. bias1 = 1 - 0.9^t, bias2 =
/// 1 - 0.999^t.
cudaError_t launch_cw_step(float* w, float* m, float* v, float* best, float* best_l2,
                           const float* grad, const float* x_adv, const float* x, const bool* hit,
                           const bool* moving, int64_t samples, int64_t dim, float lr,
                           float bias1, float bias2, cudaStream_t stream);

/// The random starts of kernels/random_start.h, drawn with curand's Philox4x32-10 (the stream
/// the CPU twin reads through ATen's engine); row s of `samples` rows of `dim` elements draws
/// from the stream keyed by noise::point_key(key, ids[s]) (ids on the device). Linf: one thread
/// per block of four elements; L2: one CUDA block per row.
cudaError_t launch_linf_random_start(float* out, const float* x, const int64_t* ids,
                                     int64_t samples, int64_t dim, float eps, float lo, float hi,
                                     uint64_t key, cudaStream_t stream);
cudaError_t launch_l2_random_start(float* out, const float* x, const int64_t* ids, int64_t samples,
                                   int64_t dim, float eps, float lo, float hi, uint64_t key,
                                   cudaStream_t stream);

/// The early-stop mask update of kernels/success_mask.h: one thread per sample.
cudaError_t launch_update_fooled(bool* fooled, const float* logits, const int64_t* labels,
                                 int64_t samples, int64_t classes, bool targeted,
                                 cudaStream_t stream);

/// The APGD step of kernels/apgd_step.h on `samples` contiguous rows of `dim` float32 elements
/// (eta [samples] on the device): Linf one thread per element, L2 one block per sample.
cudaError_t launch_apgd_step(float* x_adv, float* x_prev, const float* x, const float* g,
                             const float* eta, int64_t samples, int64_t dim, float alpha, float eps,
                             float lo, float hi, bool l2, cudaStream_t stream);

/// The APGD bookkeeping of kernels/apgd_step.h (apgd_track_): one block per sample.
cudaError_t launch_apgd_track(float* x_best, float* grad_best, float* loss_best, float* x_best_adv,
                              bool* fooled, float* loss_prev, int32_t* increases,
                              const float* x_adv, const float* grad, const float* loss,
                              const bool* fooled_now, int64_t samples, int64_t dim,
                              cudaStream_t stream);

/// The Square attack's Linf start and proposal of kernels/square_step.h on `samples`
/// contiguous float32 images [channels, height, width]: one thread per element.
cudaError_t launch_square_linf_start(float* out, const float* x, const int64_t* ids,
                                     int64_t samples, int64_t channels, int64_t height,
                                     int64_t width, float eps, float lo, float hi, uint64_t key,
                                     cudaStream_t stream);
cudaError_t launch_square_linf_proposal(float* out, const float* x_best, const float* x,
                                        const int64_t* ids, int64_t samples, int64_t channels,
                                        int64_t height, int64_t width, int64_t side,
                                        int64_t iteration, float eps, float lo, float hi,
                                        uint64_t key, cudaStream_t stream);

}  // namespace rampart::kernels::cuda
