#pragma once

#include <cstdint>

namespace rampart::kernels::cpu {

/// Pointers of one CW step over `samples` contiguous float32 rows of `dim` elements
/// (kernels/cw_step.h). `hit` and `moving` are bool [samples].
struct CWStepArgs {
  float *w, *m, *v, *best, *best_l2;
  const float *grad, *x_adv, *x;
  const bool *hit, *moving;
  int64_t samples, dim;
  float lr, bias1, bias2;  ///< bias1 = 1 - b1^t, bias2 = 1 - b2^t
};

void cw_step(const CWStepArgs& a);

}  // namespace rampart::kernels::cpu
