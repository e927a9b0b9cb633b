#pragma once

#include <torch/arg.h>

#include <utility>
#include <vector>

#include "attacks/attack.h"

namespace rampart::attacks {

/// The loss APGD climbs: cross-entropy (APGD-CE) or the Difference of Logits Ratio (APGD-DLR,
/// attacks/dlr_loss.h). APGD-T (target_classes > 0) always climbs the targeted DLR loss.
enum class APGDLoss { kCrossEntropy, kDLR };

/// Options of Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with
/// an ensemble of diverse parameter-free attacks", Algorithm 1). The defaults are the paper's
/// and AutoAttack's "standard" version; the reference implementation is fra31/auto-attack
/// (autopgd_base.py), and where this one differs the .cpp says so.
///
/// Example:
///   auto ce = attacks::apgd(model, x, y, APGDOptions(8.0 / 255));               // APGD-CE
///   auto t = attacks::apgd(model, x, y, APGDOptions(8.0 / 255).target_classes(9));  // APGD-T
struct APGDOptions {
  explicit APGDOptions(double eps) : eps_(eps) {}
  TORCH_ARG(double, eps);
  TORCH_ARG(Norm, norm) = Norm::kLinf;
  /// N_iter: iterations per run (each one forward and one backward per EOT sample).
  TORCH_ARG(int64_t, steps) = 100;
  /// Runs per target class, each from a new random start, on the points still robust.
  TORCH_ARG(int64_t, restarts) = 1;
  TORCH_ARG(APGDLoss, loss) = APGDLoss::kCrossEntropy;
  /// APGD-T: 0 = untargeted; k > 0 runs the targeted DLR loss against each of the k most likely
  /// other classes (by the clean logits) in turn, each on the points still robust.
  TORCH_ARG(int64_t, target_classes) = 0;
  /// rho: at a checkpoint the step is halved when at most rho of the steps since the last one
  /// raised the loss.
  TORCH_ARG(double, rho) = 0.75;
  /// The paper's alpha: x_next = P(x + alpha (z - x) + (1 - alpha)(x - x_prev)); 1 - alpha is
  /// the weight of the previous displacement (the momentum), alpha = 1 none.
  TORCH_ARG(double, alpha) = 0.75;
  /// The first step eta_0; 0 (the default) means 2 * eps, the paper's.
  TORCH_ARG(double, step_size) = 0.0;
  /// Start at a random point of the eps-ball (the paper's) instead of at x.
  TORCH_ARG(bool, random_init) = true;
  /// Expectation over transformation: the gradient of a randomised model averaged over this
  /// many forward/backward passes at each iterate (AutoAttack's "rand" version uses 20).
  TORCH_ARG(int64_t, eot_samples) = 1;
  TORCH_ARG(uint64_t, seed) = 0;
  /// The random-start family, as PGDOptions::stream.
  TORCH_ARG(uint64_t, stream) = 0;
  TORCH_ARG(double, clip_min) = 0.0;
  TORCH_ARG(double, clip_max) = 1.0;
};

/// Throws ConfigError for eps < 0, steps < 1, restarts < 1, target_classes < 0, rho outside
/// [0, 1], alpha outside (0, 1], step_size < 0, eot_samples < 1 or an empty box.
void validate(const APGDOptions& options);

/// The checkpoints of APGD's step-size schedule for `steps` iterations, as (iteration, interval
/// length) with iterations counted from 1: w_1 = 0.22 N, then intervals shrinking by 0.03 N down
/// to 0.06 N (integer parts, at least 1), as the reference runs them. For N = 100: (22, 22),
/// (41, 19), (57, 16), (70, 13), (80, 10), (87, 7), (93, 6), (99, 6).
std::vector<std::pair<int64_t, int64_t>> apgd_checkpoints(int64_t steps);

/// APGD (APGD-T with target_classes > 0). Each point keeps its best example: the last iterate
/// that fooled the model, else the one with the highest loss. A point leaves the batch once
/// fooled (every step on the CPU, at checkpoints on CUDA: it cannot change the point's result).
/// Success is judged by the model's decision (Model::predict where it is not the argmax) and
/// confirmed by one final forward of the returned examples, so a randomised model's verdict is a
/// fresh draw, as AutoAttack's. `labels` are the true labels; `point_ids` as in Attack::run.
AttackResult apgd(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                  const APGDOptions& options, const at::Tensor& point_ids = {});

/// APGD behind the Attack interface. id(): `apgd-ce-linf-0.1`, `apgd-dlr-l2-0.5`,
/// `apgd-t-linf-0.1`.
class APGD : public Attack {
 public:
  explicit APGD(APGDOptions options);
  AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids = {}) const override;
  std::string id() const override;
  const APGDOptions& options() const { return options_; }

 private:
  APGDOptions options_;
};

}  // namespace rampart::attacks
