#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/parallel_for.h"
#include "kernels/cpu/step_kernels.h"

namespace rampart::kernels::cpu {
namespace {

inline float clampf(float v, float lo, float hi) { return std::min(std::max(v, lo), hi); }

double sum_squares(const float* v, int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(v[i]) * v[i];
  return total;
}

void linf_row(float* a, float* prev, const float* x, const float* g, int64_t dim, float eta,
              float alpha, float eps, float lo, float hi) {
  for (int64_t i = 0; i < dim; ++i) {
    const float sign = static_cast<float>((g[i] > 0.0f) - (g[i] < 0.0f));
    const float z = clampf(clampf(a[i] + eta * sign, x[i] - eps, x[i] + eps), lo, hi);
    const float v = a[i] + (z - a[i]) * alpha + (a[i] - prev[i]) * (1.0f - alpha);
    prev[i] = a[i];
    a[i] = clampf(clampf(v, x[i] - eps, x[i] + eps), lo, hi);
  }
}

void l2_row(float* a, float* prev, const float* x, const float* g, int64_t dim, float eta,
            float alpha, float eps, float lo, float hi) {
  const float step = eta / (static_cast<float>(std::sqrt(sum_squares(g, dim))) + 1e-12f);
  double u2 = 0;
  for (int64_t i = 0; i < dim; ++i) {
    const float u = a[i] + step * g[i] - x[i];
    u2 += static_cast<double>(u) * u;
  }
  const float un = static_cast<float>(std::sqrt(u2));
  const float s1 = std::min(eps, un) / (un + 1e-12f);
  double v2 = 0;
  for (int64_t i = 0; i < dim; ++i) {  // a[i] holds the unprojected delta v until the last pass
    const float z = clampf(x[i] + (a[i] + step * g[i] - x[i]) * s1, lo, hi);
    const float v = a[i] + (z - a[i]) * alpha + (a[i] - prev[i]) * (1.0f - alpha) - x[i];
    prev[i] = a[i];
    a[i] = v;
    v2 += static_cast<double>(v) * v;
  }
  const float vn = static_cast<float>(std::sqrt(v2));
  const float s2 = std::min(eps, vn) / (vn + 1e-12f);
  for (int64_t i = 0; i < dim; ++i) a[i] = clampf(x[i] + a[i] * s2, lo, hi);
}

}  // namespace

void apgd_step(float* x_adv, float* x_prev, const float* x, const float* g, const float* eta,
               int64_t samples, int64_t dim, float alpha, float eps, float lo, float hi, bool l2) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, samples, grain, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t o = s * dim;
      (l2 ? l2_row : linf_row)(x_adv + o, x_prev + o, x + o, g + o, dim, eta[s], alpha, eps, lo,
                               hi);
    }
  });
}

void apgd_track(float* x_best, float* grad_best, float* loss_best, float* x_best_adv,
                bool* fooled, float* loss_prev, int32_t* increases, const float* x_adv,
                const float* grad, const float* loss, const bool* fooled_now, int64_t samples,
                int64_t dim) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  const auto bytes = static_cast<std::size_t>(dim) * sizeof(float);
  at::parallel_for(0, samples, grain, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t o = s * dim;
      if (loss[s] > loss_best[s]) {
        std::memcpy(x_best + o, x_adv + o, bytes);
        std::memcpy(grad_best + o, grad + o, bytes);
        loss_best[s] = loss[s];
      }
      increases[s] += loss[s] > loss_prev[s] ? 1 : 0;
      loss_prev[s] = loss[s];
      if (fooled_now[s]) {
        std::memcpy(x_best_adv + o, x_adv + o, bytes);
        fooled[s] = true;
      }
    }
  });
}

}  // namespace rampart::kernels::cpu
