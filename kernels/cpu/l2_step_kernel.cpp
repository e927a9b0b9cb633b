#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/step_kernels.h"

namespace rampart::kernels::cpu {

void l2_step(float* x_adv, const float* x, const float* g, int64_t samples, int64_t dim,
             float alpha, float eps, float lo, float hi) {
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, samples, grain, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      float* a = x_adv + s * dim;
      const float* xs = x + s * dim;
      const float* gs = g + s * dim;
      double g2 = 0;
      for (int64_t i = 0; i < dim; ++i) g2 += static_cast<double>(gs[i]) * gs[i];
      const float step = alpha / std::max(static_cast<float>(std::sqrt(g2)), 1e-12f);
      double d2 = 0;
      for (int64_t i = 0; i < dim; ++i) {
        const float d = a[i] + step * gs[i] - xs[i];
        a[i] = d;  // the unscaled delta, rescaled below
        d2 += static_cast<double>(d) * d;
      }
      const float scale = std::min(1.0f, eps / std::max(static_cast<float>(std::sqrt(d2)), 1e-12f));
      for (int64_t i = 0; i < dim; ++i) a[i] = std::min(std::max(xs[i] + a[i] * scale, lo), hi);
    }
  });
}

}  // namespace rampart::kernels::cpu
