#include <algorithm>

#include "core/parallel_for.h"
#include "kernels/cpu/philox_block.h"
#include "kernels/cpu/step_kernels.h"
#include "kernels/noise.h"

namespace rampart::kernels::cpu {
namespace {

inline float clampf(float v, float lo, float hi) { return std::min(std::max(v, lo), hi); }

}  // namespace

void square_linf_start(float* out, const float* x, const int64_t* ids, int64_t samples,
                       int64_t channels, int64_t height, int64_t width, float eps, float lo,
                       float hi, uint64_t key) {
  const int64_t plane = height * width, dim = channels * plane;
  at::parallel_for(0, samples, 1, [&](int64_t begin, int64_t end) {
    uint32_t block[4];
    for (int64_t s = begin; s < end; ++s) {
      const uint64_t stream = noise::point_key(key, ids[s]);
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t col = 0; col < width; ++col) {
          const int64_t k = c * width + col;
          if (k % 128 == 0 || col == 0) {
            philox_block(stream, noise::kStripeSubsequence + static_cast<uint64_t>(k / 128), block);
          }
          const float sign = noise::sign_bit(block, k % 128);
          for (int64_t row = 0; row < height; ++row) {
            const int64_t i = s * dim + c * plane + row * width + col;
            out[i] = clampf(x[i] + eps * sign, lo, hi);
          }
        }
      }
    }
  });
}

void square_linf_proposal(float* out, const float* x_best, const float* x, const int64_t* ids,
                          int64_t samples, int64_t channels, int64_t height, int64_t width,
                          int64_t side, int64_t iteration, float eps, float lo, float hi,
                          uint64_t key) {
  const int64_t plane = height * width, dim = channels * plane;
  at::parallel_for(0, samples, 1, [&](int64_t begin, int64_t end) {
    uint32_t window[4], signs[4];
    for (int64_t s = begin; s < end; ++s) {
      const uint64_t stream = noise::point_key(key, ids[s]);
      philox_block(stream, static_cast<uint64_t>(iteration), window);
      const int64_t top = noise::below(window[0], height - side + 1);
      const int64_t left = noise::below(window[1], width - side + 1);
      std::copy(x_best + s * dim, x_best + (s + 1) * dim, out + s * dim);
      for (int64_t c = 0; c < channels; ++c) {
        if (c % 128 == 0) {
          philox_block(stream,
                       static_cast<uint64_t>(iteration) +
                           static_cast<uint64_t>(c / 128 + 1) * noise::kSignGroup,
                       signs);
        }
        const float step = 2.0f * eps * noise::sign_bit(signs, c % 128);
        for (int64_t row = top; row < top + side; ++row) {
          for (int64_t col = left; col < left + side; ++col) {
            const int64_t i = s * dim + c * plane + row * width + col;
            out[i] = clampf(clampf(x_best[i] + step, x[i] - eps, x[i] + eps), lo, hi);
          }
        }
      }
    }
  });
}

}  // namespace rampart::kernels::cpu
