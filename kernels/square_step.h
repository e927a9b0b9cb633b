#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace rampart::kernels {

/// The Linf Square attack's random draws (Andriushchenko et al. 2020, "Square Attack: a
/// query-efficient black-box adversarial attack via random search", Algorithm 1 and section
/// 3.1), drawn inside the kernel from counter-based Philox streams (kernels/noise.h) keyed by
/// noise::point_key(key, point_ids[i]): a point draws the same windows in any batch and unrelated
/// ones from every other point. Batches are [N, C, H, W]; `point_ids` int64 [N] on the batch's
/// device. float32 takes the fused twins (CPU loop, CUDA kernel), other dtypes are drawn in
/// float32 and cast.

/// The start: vertical stripes, out = clamp(x + eps * s, lo, hi) with one sign s = +-1 per
/// point, channel and column.
void square_linf_start(at::Tensor& out, const at::Tensor& x, const at::Tensor& point_ids,
                       double eps, double lo, double hi, uint64_t key);

/// The proposal of iteration `iteration`: per point, a `side` x `side` window at a position
/// uniform over the image and a sign s_c = +-1 per channel; inside the window every channel moves
/// to the ball's vertex, out = clamp(clip(x_best + 2 eps s_c, x - eps, x + eps), lo, hi), and
/// elsewhere out = x_best.
void square_linf_proposal(at::Tensor& out, const at::Tensor& x_best, const at::Tensor& x,
                          const at::Tensor& point_ids, int64_t side, int64_t iteration,
                          double eps, double lo, double hi, uint64_t key);

}  // namespace rampart::kernels
