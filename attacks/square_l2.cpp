#include "attacks/square_l2.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "attacks/attack_ops.h"
#include "kernels/cpu/philox_block.h"
#include "kernels/noise.h"

namespace rampart::attacks::detail {
namespace {

// Subsequences of a point's stream beyond the Linf draws (kernels/noise.h): the pattern's
// orientation per iteration, and the start's tile signs and orientations.
constexpr uint64_t kTransposeGroup = uint64_t{1} << 48;
constexpr uint64_t kStartTiles = (uint64_t{1} << 61) + (uint64_t{1} << 56);


// One point's draws for one window placement: position, orientation, channel signs.
struct Draws {
  std::vector<int64_t> top, left, top2, left2;
  std::vector<uint8_t> transpose;
  std::vector<float> signs;  // [N, C]
};

// The channel signs of block family `base` (+1 or -1 per channel, 128 per block).
void draw_signs(uint64_t stream, uint64_t base, int64_t channels, float* out) {
  uint32_t block[4];
  for (int64_t c = 0; c < channels; ++c) {
    if (c % 128 == 0) kernels::cpu::philox_block(stream, base + static_cast<uint64_t>(c / 128 + 1) * kernels::noise::kSignGroup, block);
    out[c] = kernels::noise::sign_bit(block, c % 128);
  }
}

Draws draw(const at::Tensor& ids, uint64_t key, uint64_t base, int64_t channels,
           int64_t span_h, int64_t span_w) {
  const at::Tensor host = ids.to(at::kCPU, at::kLong).contiguous();
  const int64_t n = host.numel();
  Draws d{std::vector<int64_t>(n), std::vector<int64_t>(n), std::vector<int64_t>(n),
          std::vector<int64_t>(n), std::vector<uint8_t>(n), std::vector<float>(n * channels)};
  uint32_t block[4];
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t stream = kernels::noise::point_key(key, host.data_ptr<int64_t>()[i]);
    kernels::cpu::philox_block(stream, base, block);
    d.top[i] = kernels::noise::below(block[0], span_h);
    d.left[i] = kernels::noise::below(block[1], span_w);
    d.top2[i] = kernels::noise::below(block[2], span_h);
    d.left2[i] = kernels::noise::below(block[3], span_w);
    kernels::cpu::philox_block(stream, base + kTransposeGroup, block);
    d.transpose[i] = static_cast<uint8_t>(block[0] & 1u);
    draw_signs(stream, base, channels, d.signs.data() + i * channels);
  }
  return d;
}

at::Tensor to_tensor(const std::vector<int64_t>& v, const at::Tensor& like) {
  return at::tensor(v, at::kLong).to(like.device());
}

// The eta pattern of `side`, transposed where `transpose` holds: [N, 1, side, side].
at::Tensor oriented_eta(int64_t side, const std::vector<uint8_t>& transpose, const at::Tensor& like) {
  const at::Tensor eta = square_eta(side).to(like.options());
  const at::Tensor flip =
      at::tensor(std::vector<int64_t>(transpose.begin(), transpose.end()), at::kLong)
          .to(like.device()).to(at::kBool).view({-1, 1, 1, 1});
  return at::where(flip, eta.t().unsqueeze(0).unsqueeze(0), eta.unsqueeze(0).unsqueeze(0));
}

// Advanced-indexing handles of a per-point side x side window at (top, left): [N, C, s, s].
std::array<at::Tensor, 4> window_index(const at::Tensor& top, const at::Tensor& left,
                                       int64_t side, int64_t channels) {
  const at::Tensor range = at::arange(side, top.options());
  const int64_t n = top.size(0);
  return {at::arange(n, top.options()).view({n, 1, 1, 1}),
          at::arange(channels, top.options()).view({1, channels, 1, 1}),
          (top.view({n, 1}) + range).view({n, 1, side, 1}),
          (left.view({n, 1}) + range).view({n, 1, 1, side})};
}

// bool [N, 1, H, W]: inside each point's window.
at::Tensor window_mask(const at::Tensor& top, const at::Tensor& left, int64_t side, int64_t h,
                       int64_t w) {
  const at::Tensor rows = at::arange(h, top.options()).view({1, h, 1});
  const at::Tensor cols = at::arange(w, top.options()).view({1, 1, w});
  const at::Tensor t = top.view({-1, 1, 1}), l = left.view({-1, 1, 1});
  return (rows.ge(t) & rows.lt(t + side) & cols.ge(l) & cols.lt(l + side)).unsqueeze(1);
}

// L2 norm over the last two dimensions, kept: [N, C, 1, 1].
at::Tensor plane_norm(const at::Tensor& t) { return t.pow(2).sum({-2, -1}, true).sqrt(); }

at::Tensor to_ball(const at::Tensor& x, const at::Tensor& delta, double eps, double lo, double hi) {
  const at::Tensor norm = per_sample(per_sample_l2(delta), delta);
  return (x + delta / (norm + 1e-12) * eps).clamp(lo, hi);
}

// The reference's eta_rectangles (square.py) for an x by y block, unit L2 norm.
at::Tensor rectangles(int64_t x, int64_t y) {
  at::Tensor delta = at::zeros({x, y}, at::kDouble);
  if (x == 0 || y == 0) return delta;
  const int64_t xc = x / 2 + 1, yc = y / 2 + 1;
  int64_t c0 = xc - 1, c1 = yc - 1;
  for (int64_t k = 0; k < std::max(xc, yc); ++k, --c0, --c1) {
    const int64_t r0 = std::max<int64_t>(c0, 0), r1 = std::min(c0 + 2 * k + 1, x);
    const int64_t q0 = std::max<int64_t>(c1, 0), q1 = std::min(c1 + 2 * k + 1, y);
    if (r0 < r1 && q0 < q1) delta.slice(0, r0, r1).slice(1, q0, q1).add_(1.0 / double((k + 1) * (k + 1)));
  }
  return delta / delta.pow(2).sum().sqrt();
}

}  // namespace

at::Tensor square_eta(int64_t side) {
  at::Tensor delta = at::zeros({side, side}, at::kDouble);
  const int64_t half = side / 2;
  if (half > 0) delta.slice(0, 0, half).copy_(rectangles(half, side));
  delta.slice(0, half).copy_(-rectangles(side - half, side));
  return delta / delta.pow(2).sum().sqrt();
}

int64_t square_l2_side(double p, int64_t height, int64_t width) {
  int64_t side = std::max<int64_t>(std::lround(std::sqrt(p * static_cast<double>(height * width))), 3);
  if (side % 2 == 0) ++side;
  return std::min(side, std::min(height, width));
}

at::Tensor square_l2_start(const at::Tensor& x, const at::Tensor& point_ids, double eps,
                           double lo, double hi, uint64_t key) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t tile = h / 5, offset = (h - tile * 5) / 2;
  at::Tensor delta = at::zeros_like(x);
  // The reference's grid of h / tile by w / tile tiles from `offset`; tiles that would cross
  // the edge (small images, where the reference fails) are left out.
  int64_t index = 0;
  for (int64_t i = 0; i < h / tile; ++i) {
    for (int64_t j = 0; j < w / tile; ++j, ++index) {
      const int64_t row = offset + i * tile, col = offset + j * tile;
      if (row + tile > h || col + tile > w) continue;
      const Draws d = draw(point_ids, key, kStartTiles + static_cast<uint64_t>(index), c, 1, 1);
      const at::Tensor signs = at::tensor(d.signs, at::kFloat).to(x.options()).view({n, c, 1, 1});
      delta.slice(2, row, row + tile)
          .slice(3, col, col + tile)
          .add_(oriented_eta(tile, d.transpose, x) * signs);
    }
  }
  return to_ball(x, delta, eps, lo, hi);
}

at::Tensor square_l2_proposal(const at::Tensor& best, const at::Tensor& x,
                              const at::Tensor& point_ids, int64_t side, int64_t iteration,
                              double eps, double lo, double hi, uint64_t key) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const Draws d = draw(point_ids, key, static_cast<uint64_t>(iteration), c, h - side + 1, w - side + 1);
  const at::Tensor top = to_tensor(d.top, x), left = to_tensor(d.left, x);
  const at::Tensor top2 = to_tensor(d.top2, x), left2 = to_tensor(d.left2, x);
  const auto window = window_index(top, left, side, c);
  at::Tensor delta = best - x;
  const at::Tensor old = delta.index({window[0], window[1], window[2], window[3]});                     // [N, C, s, s]
  const at::Tensor image_norm = per_sample(per_sample_l2(delta), delta);  // [N, 1, 1, 1]
  const at::Tensor both = window_mask(top, left, side, h, w) | window_mask(top2, left2, side, h, w);
  const at::Tensor windows_norm = plane_norm(delta * both.to(delta.scalar_type()));
  const at::Tensor signs = at::tensor(d.signs, at::kFloat).to(x.options()).view({n, c, 1, 1});
  at::Tensor fresh = oriented_eta(side, d.transpose, x) * signs + old / (1e-12 + plane_norm(old));
  const at::Tensor budget =
      ((eps * eps - image_norm.pow(2)).clamp_min(0) / static_cast<double>(c) + windows_norm.pow(2)).sqrt();
  fresh = fresh / (1e-12 + plane_norm(fresh)) * budget;
  delta.masked_fill_(window_mask(top2, left2, side, h, w), 0);
  delta.index_put_({window[0], window[1], window[2], window[3]}, fresh);
  return to_ball(x, delta, eps, lo, hi);
}

}  // namespace rampart::attacks::detail
