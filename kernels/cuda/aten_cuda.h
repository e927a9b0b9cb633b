#pragma once

// The ATen side of the CUDA twins: device guard, current stream, launch check. Compiled only
// against a CUDA-enabled libtorch (RAMPART_WITH_CUDA); `out`, `x`, `g` are contiguous float32
// CUDA tensors on one device.

#include <ATen/core/Tensor.h>

namespace rampart::kernels::cuda {

void linf_step_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& g, float alpha,
                    float eps, float lo, float hi);

void l2_step_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& g, float alpha, float eps,
                  float lo, float hi);

/// w, m, v, best [N, ...] and best_l2 [N] float32 updated in place; hit, moving bool [N].
void cw_step_cuda(at::Tensor& w, at::Tensor& m, at::Tensor& v, at::Tensor& best,
                  at::Tensor& best_l2, const at::Tensor& grad, const at::Tensor& x_adv,
                  const at::Tensor& x, const at::Tensor& hit, const at::Tensor& moving, float lr,
                  float bias1, float bias2);

/// out, x contiguous float32 and ids contiguous int64 [N] on one device; see
/// kernels/random_start.h.
void linf_random_start_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& ids,
                            float eps, float lo, float hi, uint64_t key);
void l2_random_start_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& ids, float eps,
                          float lo, float hi, uint64_t key);

/// fooled bool [N], logits float32 [N, C], labels int64 [N], contiguous on one device.
void update_fooled_cuda(at::Tensor& fooled, const at::Tensor& logits, const at::Tensor& labels,
                        bool targeted);

/// kernels/apgd_step.h on contiguous float32 CUDA tensors (eta float32 [N]).
void apgd_step_cuda(at::Tensor& x_adv, at::Tensor& x_prev, const at::Tensor& x,
                    const at::Tensor& g, const at::Tensor& eta, float alpha, float eps, float lo,
                    float hi, bool l2);
void apgd_track_cuda(at::Tensor& x_best, at::Tensor& grad_best, at::Tensor& loss_best,
                     at::Tensor& x_best_adv, at::Tensor& fooled, at::Tensor& loss_prev,
                     at::Tensor& increases, const at::Tensor& x_adv, const at::Tensor& grad,
                     const at::Tensor& loss, const at::Tensor& fooled_now);

/// kernels/square_step.h on contiguous float32 CUDA images [N, C, H, W] (ids int64 [N]).
void square_linf_start_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& ids, float eps,
                            float lo, float hi, uint64_t key);
void square_linf_proposal_cuda(at::Tensor& out, const at::Tensor& x_best, const at::Tensor& x,
                               const at::Tensor& ids, int64_t side, int64_t iteration, float eps,
                               float lo, float hi, uint64_t key);

/// kernels/coordinate_stats.h on a float32 CUDA x [n, d] (n <= 256) whose rows lie row_stride
/// apart with contiguous coordinates; out float32 [d] contiguous on the same device.
void sorted_range_mean_cuda(at::Tensor& out, const at::Tensor& x, int64_t row_stride, int64_t lo,
                            int64_t hi);
void median_window_mean_cuda(at::Tensor& out, const at::Tensor& x, int64_t row_stride, int64_t k);

/// kernels/pairwise_distances.h on a float32 CUDA x [n, d] (n <= 256) whose rows lie row_stride
/// apart with contiguous coordinates; out float64 [n, n] contiguous on the same device.
void pairwise_sq_distances_cuda(at::Tensor& out, const at::Tensor& x, int64_t row_stride);

}  // namespace rampart::kernels::cuda
