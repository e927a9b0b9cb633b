#include "kernels/cpu/cw_step_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace rampart::kernels::cpu {

void cw_step(const CWStepArgs& a) {
  // The constants as ATen sees them (double arithmetic, then float), so both paths agree.
  const float kBeta1 = 0.9f, kBeta2 = 0.999f, kAdamEps = 1e-8f;
  const float kOneMinusBeta1 = static_cast<float>(1.0 - 0.9);
  const float kOneMinusBeta2 = static_cast<float>(1.0 - 0.999);
  const int64_t dim = a.dim;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, a.samples, grain, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t o = s * dim;
      if (a.hit[s]) {
        float acc[16] = {};
        int64_t i = 0;
        for (; i + 16 <= dim; i += 16) {
          for (int k = 0; k < 16; ++k) {
            const float d = a.x_adv[o + i + k] - a.x[o + i + k];
            acc[k] += d * d;
          }
        }
        float total = 0;
        for (; i < dim; ++i) {
          const float d = a.x_adv[o + i] - a.x[o + i];
          total += d * d;
        }
        for (float v : acc) total += v;
        const float l2 = std::sqrt(total);
        if (l2 < a.best_l2[s]) {
          a.best_l2[s] = l2;
          std::copy(a.x_adv + o, a.x_adv + o + dim, a.best + o);
        }
      }
      if (a.moving[s]) {
        for (int64_t i = o; i < o + dim; ++i) {
          const float g = a.grad[i];
          const float m = a.m[i] * kBeta1 + g * kOneMinusBeta1;
          const float v = a.v[i] * kBeta2 + g * g * kOneMinusBeta2;
          a.m[i] = m;
          a.v[i] = v;
          a.w[i] -= a.lr * (m / a.bias1) / (std::sqrt(v / a.bias2) + kAdamEps);
        }
      }
    }
  });
}

}  // namespace rampart::kernels::cpu
