#include "kernels/cpu/cw_step_kernel.h"

#include <algorithm>
#include <cmath>

#include "core/parallel_for.h"

namespace rampart::kernels::cpu {
namespace {

// The constants as ATen sees them (double arithmetic, then float), so both paths agree.
constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kAdamEps = 1e-8f;
constexpr float kOneMinusBeta1 = static_cast<float>(1.0 - 0.9);
constexpr float kOneMinusBeta2 = static_cast<float>(1.0 - 0.999);

// Squared L2 distance of one row, in 16 partial sums (the CUDA twin's order).
float squared_distance(const float* __restrict a, const float* __restrict b, int64_t dim) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    for (int k = 0; k < 16; ++k) {
      const float d = a[i + k] - b[i + k];
      acc[k] += d * d;
    }
  }
  float total = 0;
  for (; i < dim; ++i) {
    const float d = a[i] - b[i];
    total += d * d;
  }
  for (float v : acc) total += v;
  return total;
}

// Masked Adam on one row, with plain arguments and restrict pointers. Written inline in the
// loop, reading the pointers and constants through the lambda's captured references (which the
// stores to m, v and w may alias, as far as the compiler knows), the update ran 1.8x slower once
// the file was compiled with OpenMP, even on one thread (measured 2026-12-05,
// docs/performance.md).
void adam_row(float* __restrict w, float* __restrict m, float* __restrict v,
              const float* __restrict grad, int64_t dim, float lr, float bias1, float bias2) {
  for (int64_t i = 0; i < dim; ++i) {
    const float g = grad[i];
    const float mi = m[i] * kBeta1 + g * kOneMinusBeta1;
    const float vi = v[i] * kBeta2 + g * g * kOneMinusBeta2;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr * (mi / bias1) / (std::sqrt(vi / bias2) + kAdamEps);
  }
}

}  // namespace

void cw_step(const CWStepArgs& a) {
  const CWStepArgs args = a;  // by value: nothing the loops store to can alias it
  const int64_t dim = args.dim;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  at::parallel_for(0, args.samples, grain, [args, dim](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t o = s * dim;
      if (args.hit[s]) {
        const float l2 = std::sqrt(squared_distance(args.x_adv + o, args.x + o, dim));
        if (l2 < args.best_l2[s]) {
          args.best_l2[s] = l2;
          std::copy(args.x_adv + o, args.x_adv + o + dim, args.best + o);
        }
      }
      if (args.moving[s]) {
        adam_row(args.w + o, args.m + o, args.v + o, args.grad + o, dim, args.lr, args.bias1,
                 args.bias2);
      }
    }
  });
}

}  // namespace rampart::kernels::cpu
