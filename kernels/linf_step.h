#pragma once

#include <ATen/core/Tensor.h>

namespace rampart::kernels {

/// The fused PGD Linf update, in place on `x_adv`, in one pass over memory:
///
///   x_adv <- clamp(x + clamp(x_adv + alpha * sign(grad) - x, -eps, eps), lo, hi)
///
/// (Madry et al. 2018, eq. 2, with the box constraint). `x_adv`, `x` and `grad` have the same
/// shape, dtype and device. float32 runs the fused CPU loop or the CUDA kernel; other dtypes
/// run the equivalent ATen sequence (linf_step_reference). Non-contiguous inputs are accepted.
///
/// Example:
///   kernels::linf_step_(x_adv, x, grad, /*alpha=*/0.01, /*eps=*/0.1, 0.0, 1.0);
void linf_step_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad, double alpha,
                double eps, double lo, double hi);

/// The same update as a sequence of ATen ops (sign, add, sub, clamp, add, clamp): the readable
/// definition, and the baseline the benchmarks compare against.
at::Tensor linf_step_reference(const at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                               double alpha, double eps, double lo, double hi);

}  // namespace rampart::kernels
