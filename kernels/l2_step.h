#pragma once

#include <ATen/core/Tensor.h>

namespace rampart::kernels {

/// The fused PGD L2 update, in place on `x_adv` ([N, ...], per sample i):
///
///   step  = x_adv + alpha * grad / max(||grad||_2, 1e-12)
///   delta = (step - x) * min(1, eps / max(||step - x||_2, 1e-12))
///   x_adv <- clamp(x + delta, lo, hi)
///
/// One read of each input per sample (the sample stays in cache between the norm and the
/// update). Same dtype/device rules as linf_step_.
///
/// Example:
///   kernels::l2_step_(x_adv, x, grad, /*alpha=*/0.1, /*eps=*/1.0, 0.0, 1.0);
void l2_step_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad, double alpha,
              double eps, double lo, double hi);

/// The same update as ATen ops: the reference and the benchmark baseline.
at::Tensor l2_step_reference(const at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                             double alpha, double eps, double lo, double hi);

}  // namespace rampart::kernels
