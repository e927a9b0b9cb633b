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

/// The random starts of kernels/random_start.h on `samples` rows of `dim` elements; row s
/// draws from the Philox stream keyed by noise::point_key(key, ids[s]).
void linf_random_start(float* out, const float* x, const int64_t* ids, int64_t samples,
                       int64_t dim, float eps, float lo, float hi, uint64_t key);
void l2_random_start(float* out, const float* x, const int64_t* ids, int64_t samples, int64_t dim,
                     float eps, float lo, float hi, uint64_t key);

/// fooled[i] |= (argmax(logits row i) == labels[i]) == targeted, over `samples` rows of
/// `classes` logits.
void update_fooled(bool* fooled, const float* logits, const int64_t* labels, int64_t samples,
                   int64_t classes, bool targeted);

}  // namespace rampart::kernels::cpu
