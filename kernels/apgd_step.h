#pragma once

#include <ATen/core/Tensor.h>

namespace rampart::kernels {

/// APGD's momentum step (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with
/// an ensemble of diverse parameter-free attacks", Algorithm 1; the reference is
/// fra31/auto-attack, autopgd_base.py), in place on `x_adv` and `x_prev`, per sample i:
///
///   z      = P(x_adv + eta_i * d(grad))
///   x_next = P(x_adv + alpha * (z - x_adv) + (1 - alpha) * (x_adv - x_prev))
///   x_prev <- x_adv;  x_adv <- x_next
///
/// d is sign(g) (Linf) or g / (||g||_2 + 1e-12) (L2); P projects onto the eps-ball around `x`
/// and then into the box [lo, hi] (L2: delta * min(eps, ||delta||) / (||delta|| + 1e-12), the
/// reference's form). `step_size` is float [N], eta per sample. alpha = 1 is a momentum-free
/// projected step. Tensors are [N, ...] of one shape, dtype and device; float32 takes the fused
/// twins (CPU loop, CUDA kernel), other dtypes the ATen reference.
///
/// Example:
///   kernels::apgd_step_(x_adv, x_prev, x, grad, step_size, /*alpha=*/0.75, 0.1, 0.0, 1.0, false);
void apgd_step_(at::Tensor& x_adv, at::Tensor& x_prev, const at::Tensor& x, const at::Tensor& grad,
                const at::Tensor& step_size, double alpha, double eps, double lo, double hi,
                bool l2);

/// The same step as ATen ops: the readable definition the fused twins are tested against.
void apgd_step_reference(at::Tensor& x_adv, at::Tensor& x_prev, const at::Tensor& x,
                         const at::Tensor& grad, const at::Tensor& step_size, double alpha,
                         double eps, double lo, double hi, bool l2);

/// APGD's bookkeeping after the forward and backward at the new iterate `x_adv` (its per-sample
/// objective `loss` [N], gradient `grad`, and `fooled_now` [N] bool: misclassified there), in
/// place, per sample i:
///
///   loss[i] > loss_best[i]:  x_best[i] <- x_adv[i], grad_best[i] <- grad[i],
///                            loss_best[i] <- loss[i]
///   increases[i] += loss[i] > loss_prev[i];  loss_prev[i] <- loss[i]
///   fooled_now[i]:           x_best_adv[i] <- x_adv[i], fooled[i] <- true
///
/// `increases` is int32 [N]; the other per-sample tensors float32 (losses) or bool.
void apgd_track_(at::Tensor& x_best, at::Tensor& grad_best, at::Tensor& loss_best,
                 at::Tensor& x_best_adv, at::Tensor& fooled, at::Tensor& loss_prev,
                 at::Tensor& increases, const at::Tensor& x_adv, const at::Tensor& grad,
                 const at::Tensor& loss, const at::Tensor& fooled_now);

/// The same bookkeeping as ATen ops (where, or, add).
void apgd_track_reference(at::Tensor& x_best, at::Tensor& grad_best, at::Tensor& loss_best,
                          at::Tensor& x_best_adv, at::Tensor& fooled, at::Tensor& loss_prev,
                          at::Tensor& increases, const at::Tensor& x_adv, const at::Tensor& grad,
                          const at::Tensor& loss, const at::Tensor& fooled_now);

}  // namespace rampart::kernels
