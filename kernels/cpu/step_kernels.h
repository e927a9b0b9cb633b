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

/// The APGD step of kernels/apgd_step.h over `samples` rows of `dim` elements; eta [samples]
/// is the per-sample step size.
void apgd_step(float* x_adv, float* x_prev, const float* x, const float* g, const float* eta,
               int64_t samples, int64_t dim, float alpha, float eps, float lo, float hi, bool l2);

/// The APGD bookkeeping of kernels/apgd_step.h (apgd_track_) over `samples` rows.
void apgd_track(float* x_best, float* grad_best, float* loss_best, float* x_best_adv,
                bool* fooled, float* loss_prev, int32_t* increases, const float* x_adv,
                const float* grad, const float* loss, const bool* fooled_now, int64_t samples,
                int64_t dim);

/// The Square attack's Linf start and proposal of kernels/square_step.h over `samples` images
/// [channels, height, width].
void square_linf_start(float* out, const float* x, const int64_t* ids, int64_t samples,
                       int64_t channels, int64_t height, int64_t width, float eps, float lo,
                       float hi, uint64_t key);
void square_linf_proposal(float* out, const float* x_best, const float* x, const int64_t* ids,
                          int64_t samples, int64_t channels, int64_t height, int64_t width,
                          int64_t side, int64_t iteration, float eps, float lo, float hi,
                          uint64_t key);

}  // namespace rampart::kernels::cpu
