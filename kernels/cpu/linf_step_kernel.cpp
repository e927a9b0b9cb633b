#include <algorithm>

#include "core/parallel_for.h"
#include "kernels/cpu/step_kernels.h"

namespace rampart::kernels::cpu {

void linf_step(float* x_adv, const float* x, const float* g, int64_t n, float alpha, float eps,
               float lo, float hi) {
  at::parallel_for(0, n, 32768, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float sign = static_cast<float>((g[i] > 0.0f) - (g[i] < 0.0f));
      const float delta = std::min(std::max(x_adv[i] + alpha * sign - x[i], -eps), eps);
      x_adv[i] = std::min(std::max(x[i] + delta, lo), hi);
    }
  });
}

}  // namespace rampart::kernels::cpu
