#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace rampart::kernels {

/// Random starts of PGD, drawn inside the kernel from counter-based Philox4x32-10 streams
/// (kernels/noise.h): no noise tensor is allocated or copied, and one key gives the same start
/// on CPU and CUDA (identical for Linf, within float rounding of log and sin/cos for L2). Each
/// point has its own stream, keyed by noise::point_key(key, point_ids[s]): a point's start
/// depends on its id (its index in the whole data set), not on its position in the batch, so it
/// is the same in any batch and unrelated to every other point's. `point_ids` is int64 [N];
/// undefined means 0..N-1. `out` is written, shaped like `x` ([N, ...]).
///
///   Linf: out = clamp(x + eps * (2u - 1), lo, hi), u uniform in [0, 1) per element;
///   L2:   out = clamp(x + eps * r * z / ||z||_2, lo, hi), z standard normal per element,
///         r = u^(1/d) per point (d elements): uniform in the ball.
///
/// float32 takes the fused twins; other dtypes are drawn in float32 and cast.
///
/// Example:
///   at::Tensor x_adv = at::empty_like(x);
///   kernels::linf_random_start(x_adv, x, /*eps=*/0.1, 0.0, 1.0, /*key=*/42, batch_indices);
void linf_random_start(at::Tensor& out, const at::Tensor& x, double eps, double lo, double hi,
                       uint64_t key, const at::Tensor& point_ids = {});
void l2_random_start(at::Tensor& out, const at::Tensor& x, double eps, double lo, double hi,
                     uint64_t key, const at::Tensor& point_ids = {});

}  // namespace rampart::kernels
