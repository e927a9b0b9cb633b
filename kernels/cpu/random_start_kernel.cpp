#include <algorithm>
#include <cmath>

#include "core/parallel_for.h"
#include "kernels/cpu/philox_block.h"
#include "kernels/cpu/step_kernels.h"
#include "kernels/noise.h"

namespace rampart::kernels::cpu {

void linf_random_start(float* out, const float* x, const int64_t* ids, int64_t samples,
                       int64_t dim, float eps, float lo, float hi, uint64_t key) {
  const int64_t per_sample = (dim + 3) / 4;  // Philox blocks per point
  at::parallel_for(0, samples * per_sample, 4096, [&](int64_t begin, int64_t end) {
    uint32_t block[4];
    for (int64_t j = begin; j < end; ++j) {
      const int64_t s = j / per_sample, b = j % per_sample;
      philox_block(noise::point_key(key, ids[s]), static_cast<uint64_t>(b), block);
      for (int k = 0; k < 4 && 4 * b + k < dim; ++k) {
        const int64_t i = s * dim + 4 * b + k;
        const float delta = eps * (2.0f * noise::uniform(block[k]) - 1.0f);
        out[i] = std::min(std::max(x[i] + delta, lo), hi);
      }
    }
  });
}

void l2_random_start(float* out, const float* x, const int64_t* ids, int64_t samples, int64_t dim,
                     float eps, float lo, float hi, uint64_t key) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, samples, grain, [&](int64_t begin, int64_t end) {
    uint32_t block[4];
    for (int64_t s = begin; s < end; ++s) {
      const uint64_t stream = noise::point_key(key, ids[s]);
      float* z = out + s * dim;
      const float* xs = x + s * dim;
      double squares = 0;
      // The point's elements by Philox block: four normals (two Box-Muller pairs) per block.
      for (int64_t b = 0; 4 * b < dim; ++b) {
        philox_block(stream, static_cast<uint64_t>(b), block);
        float normals[4];
        noise::normal_pair(block[0], block[1], normals);
        noise::normal_pair(block[2], block[3], normals + 2);
        for (int64_t e = 4 * b; e < std::min(4 * b + 4, dim); ++e) {
          const float v = normals[e - 4 * b];
          z[e] = v;
          squares += static_cast<double>(v) * v;
        }
      }
      philox_block(stream, noise::kRadiusSubsequence, block);
      const float radius = std::pow(noise::uniform(block[0]), 1.0f / static_cast<float>(dim));
      const float scale = eps * radius / std::max(static_cast<float>(std::sqrt(squares)), 1e-12f);
      for (int64_t i = 0; i < dim; ++i) z[i] = std::min(std::max(xs[i] + scale * z[i], lo), hi);
    }
  });
}

}  // namespace rampart::kernels::cpu
