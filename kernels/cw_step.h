#pragma once

#include <ATen/core/Tensor.h>

namespace rampart::kernels {

/// The state Carlini-Wagner L2 carries per batch, updated in place by cw_step_.
struct CWState {
  at::Tensor w, m, v;  ///< tanh-space variable and Adam moments, [N, ...] float
  at::Tensor best;     ///< closest successful example so far, [N, ...]
  at::Tensor best_l2;  ///< its L2 distance to x, [N] (inf while none)
};

/// One fused CW iteration after the forward/backward (Carlini & Wagner 2017, section V), per
/// sample i:
///
///   l2 = ||x_adv_i - x_i||_2
///   if hit_i and l2 < best_l2_i:  best_i <- x_adv_i, best_l2_i <- l2   (best-example tracking)
///   if moving_i:                                                       (Adam, step t >= 1)
///     m_i <- b1 m_i + (1 - b1) g_i,  v_i <- b2 v_i + (1 - b2) g_i^2
///     w_i <- w_i - lr * (m_i / (1 - b1^t)) / (sqrt(v_i / (1 - b2^t)) + 1e-8)
///
/// with b1 = 0.9, b2 = 0.999. `x_adv` is the iterate the forward pass saw (tanh image of w);
/// `hit` and `moving` are bool [N]. float32 runs the fused CPU loop or the CUDA kernel (one
/// block per sample); other dtypes run cw_step_reference. All tensors share one device.
void cw_step_(CWState& state, const at::Tensor& grad, const at::Tensor& x_adv, const at::Tensor& x,
              const at::Tensor& hit, const at::Tensor& moving, double lr, int64_t t);

/// The same iteration as ATen ops (the readable definition and the benchmark baseline).
void cw_step_reference(CWState& state, const at::Tensor& grad, const at::Tensor& x_adv,
                       const at::Tensor& x, const at::Tensor& hit, const at::Tensor& moving,
                       double lr, int64_t t);

}  // namespace rampart::kernels
