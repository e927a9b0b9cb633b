#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace rampart::kernels {

/// Random starts of PGD, drawn inside the kernel from the counter-based Philox4x32-10 stream
/// keyed by `seed` (kernels/noise.h): no noise tensor is allocated or copied, and one seed
/// gives the same start on CPU and CUDA (identical for Linf, within float rounding of log and
/// sin/cos for L2). `out` is written, shaped like `x` ([N, ...]).
///
///   Linf: out = clamp(x + eps * (2u - 1), lo, hi), u uniform in [0, 1) per element;
///   L2:   out = clamp(x + eps * r * z / ||z||_2, lo, hi), z standard normal per element,
///         r = u^(1/d) per sample (d elements): uniform in the ball.
///
/// float32 takes the fused twins; other dtypes are drawn in float32 and cast.
///
/// Example:
///   at::Tensor x_adv = at::empty_like(x);
///   kernels::linf_random_start(x_adv, x, /*eps=*/0.1, 0.0, 1.0, /*seed=*/42);
void linf_random_start(at::Tensor& out, const at::Tensor& x, double eps, double lo, double hi,
                       uint64_t seed);
void l2_random_start(at::Tensor& out, const at::Tensor& x, double eps, double lo, double hi,
                     uint64_t seed);

}  // namespace rampart::kernels
