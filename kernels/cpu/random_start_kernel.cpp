#include <ATen/Parallel.h>
#include <ATen/core/PhiloxRNGEngine.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/step_kernels.h"
#include "kernels/noise.h"

namespace rampart::kernels::cpu {
namespace {

void philox_block(uint64_t seed, uint64_t block_index, uint32_t (&block)[4]) {
  at::Philox4_32 engine(seed, block_index, 0);
  for (uint32_t& word : block) word = engine();
}

}  // namespace

void linf_random_start(float* out, const float* x, int64_t n, float eps, float lo, float hi,
                       uint64_t seed) {
  const int64_t blocks = (n + 3) / 4;
  at::parallel_for(0, blocks, 4096, [&](int64_t begin, int64_t end) {
    uint32_t block[4];
    for (int64_t b = begin; b < end; ++b) {
      philox_block(seed, static_cast<uint64_t>(b), block);
      for (int k = 0; k < 4 && 4 * b + k < n; ++k) {
        const int64_t i = 4 * b + k;
        const float delta = eps * (2.0f * noise::uniform(block[k]) - 1.0f);
        out[i] = std::min(std::max(x[i] + delta, lo), hi);
      }
    }
  });
}

void l2_random_start(float* out, const float* x, int64_t samples, int64_t dim, float eps, float lo,
                     float hi, uint64_t seed) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, samples, grain, [&](int64_t begin, int64_t end) {
    uint32_t block[4];
    for (int64_t s = begin; s < end; ++s) {
      float* z = out + s * dim;
      const float* xs = x + s * dim;
      double squares = 0;
      // The sample's elements by Philox block: four normals (two Box-Muller pairs) per block.
      const int64_t first = s * dim, last = first + dim;
      for (int64_t b = first / 4; 4 * b < last; ++b) {
        philox_block(seed, static_cast<uint64_t>(b), block);
        float normals[4];
        noise::normal_pair(block[0], block[1], normals);
        noise::normal_pair(block[2], block[3], normals + 2);
        for (int64_t e = std::max(4 * b, first); e < std::min(4 * b + 4, last); ++e) {
          const float v = normals[e - 4 * b];
          z[e - first] = v;
          squares += static_cast<double>(v) * v;
        }
      }
      philox_block(seed, noise::kRadiusSubsequence + static_cast<uint64_t>(s), block);
      const float radius = std::pow(noise::uniform(block[0]), 1.0f / static_cast<float>(dim));
      const float scale = eps * radius / std::max(static_cast<float>(std::sqrt(squares)), 1e-12f);
      for (int64_t i = 0; i < dim; ++i)
        out[s * dim + i] = std::min(std::max(xs[i] + scale * z[i], lo), hi);
    }
  });
}

}  // namespace rampart::kernels::cpu
