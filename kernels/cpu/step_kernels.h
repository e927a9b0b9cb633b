#pragma once

#include <cstdint>

// CPU twins of the fused attack updates on contiguous float32 arrays: the readable reference
// loops (the compiler vectorizes them) run in parallel chunks with at::parallel_for.
namespace rampart::kernels::cpu {

/// x_adv[i] <- clamp(x[i] + clamp(x_adv[i] + alpha * sign(g[i]) - x[i], -eps, eps), lo, hi)
void linf_step(float* x_adv, const float* x, const float* g, int64_t n, float alpha, float eps,
               float lo, float hi);

/// The L2 step of kernels/l2_step.h over `samples` rows of `dim` elements.
void l2_step(float* x_adv, const float* x, const float* g, int64_t samples, int64_t dim,
             float alpha, float eps, float lo, float hi);

}  // namespace rampart::kernels::cpu
