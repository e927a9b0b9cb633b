#include <algorithm>
#include <cmath>

#include "core/parallel_for.h"
#include "kernels/cpu/step_kernels.h"

namespace rampart::kernels::cpu {
namespace {

constexpr int kLanes = 16;  // independent partial sums, so the compiler can vectorize

float sum_squares(const float* v, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) acc[k] += v[i + k] * v[i + k];
  }
  float total = 0;
  for (; i < n; ++i) total += v[i] * v[i];
  for (float a : acc) total += a;
  return total;
}

// a <- a + step * g - x (the unprojected delta); returns its squared norm.
float delta_in_place(float* a, const float* g, const float* x, int64_t n, float step) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) {
      const float d = a[i + k] + step * g[i + k] - x[i + k];
      a[i + k] = d;
      acc[k] += d * d;
    }
  }
  float total = 0;
  for (; i < n; ++i) {
    const float d = a[i] + step * g[i] - x[i];
    a[i] = d;
    total += d * d;
  }
  for (float v : acc) total += v;
  return total;
}

}  // namespace

void l2_step(float* x_adv, const float* x, const float* g, int64_t samples, int64_t dim,
             float alpha, float eps, float lo, float hi) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, samples, grain, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      float* a = x_adv + s * dim;
      const float* xs = x + s * dim;
      const float* gs = g + s * dim;
      const float step = alpha / std::max(std::sqrt(sum_squares(gs, dim)), 1e-12f);
      const float norm = std::sqrt(delta_in_place(a, gs, xs, dim, step));
      const float scale = std::min(1.0f, eps / std::max(norm, 1e-12f));
      for (int64_t i = 0; i < dim; ++i) a[i] = std::min(std::max(xs[i] + a[i] * scale, lo), hi);
    }
  });
}

}  // namespace rampart::kernels::cpu
