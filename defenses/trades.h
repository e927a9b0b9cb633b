#pragma once

// TRADES (Zhang et al. 2019, "Theoretically Principled Trade-off between Robustness and
// Accuracy"): the inner maximization of the KL term (defenses::detail).

#include <ATen/core/Tensor.h>

#include "defenses/adversarial_training.h"

namespace rampart::defenses::detail {

/// Per-batch mean of KL(softmax(clean) || softmax(adversarial)) from the two logit tensors.
at::Tensor kl_clean_adversarial(const at::Tensor& clean_logits, const at::Tensor& adv_logits);

/// The adversarial example maximizing KL(f(x) || f(x')) over the eps-ball (Linf, sign steps,
/// projection, box clip), starting at x + 0.001 * N(0, 1) noise, unclipped, as the reference
/// code does (yaodongyu/TRADES, trades.py); the noise comes from a CPU generator seeded by `seed`.
/// The model runs in eval mode with frozen parameters; no parameter gradients are created.
at::Tensor trades_example(models::Model& model, const at::Tensor& x,
                          const AdversarialTrainingOptions& options, uint64_t seed);

}  // namespace rampart::defenses::detail
