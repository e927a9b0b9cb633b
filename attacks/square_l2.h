#pragma once

// The L2 Square attack's start and proposals (Andriushchenko et al. 2020, section 3.2; the
// reference is fra31/auto-attack, square.py), as batched ATen ops with per-point windows. Each
// point draws its windows, channel signs and pattern orientation from its own Philox stream
// (noise::point_key(key, id)), so its draws do not depend on its batch.

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace rampart::attacks::detail {

/// The reference's eta pattern for an s x s window: two stacked halves of opposite sign, each
/// a sum of centred rectangles weighted 1/(k+1)^2, scaled to unit L2 norm. float64 [s, s].
at::Tensor square_eta(int64_t side);

/// The window side for L2: max(round(sqrt(p * H * W)), 3), made odd, at most min(H, W).
int64_t square_l2_side(double p, int64_t height, int64_t width);

/// The start: a grid of (H / 5)-pixel tiles from the image's centre, each the eta pattern
/// (randomly transposed) times a random sign per channel, scaled to L2 norm eps, clamped to
/// [lo, hi]. Images [N, C, H, W] with H, W >= 5.
at::Tensor square_l2_start(const at::Tensor& x, const at::Tensor& point_ids, double eps,
                           double lo, double hi, uint64_t key);

/// Iteration `iteration`'s proposal from the current best examples: per point, window 1 gets
/// a fresh eta pattern (signs per channel) plus its old content, rescaled so that the mass of
/// windows 1 and 2 and the unused budget go into window 1; window 2 is emptied; the whole
/// perturbation is scaled to L2 norm eps and clamped.
at::Tensor square_l2_proposal(const at::Tensor& best, const at::Tensor& x,
                              const at::Tensor& point_ids, int64_t side, int64_t iteration,
                              double eps, double lo, double hi, uint64_t key);

}  // namespace rampart::attacks::detail
