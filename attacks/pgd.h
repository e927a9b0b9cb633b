#pragma once

#include <torch/arg.h>

#include "attacks/attack.h"

namespace rampart::attacks {

/// Options of projected gradient descent (Madry et al. 2018, "Towards Deep Learning Models
/// Resistant to Adversarial Attacks").
///
/// Example:
///   auto result = attacks::pgd(model, x, y, PGDOptions(0.1).steps(20).step_size(0.01));
struct PGDOptions {
  explicit PGDOptions(double eps) : eps_(eps) {}
  TORCH_ARG(double, eps);
  TORCH_ARG(Norm, norm) = Norm::kLinf;
  TORCH_ARG(int64_t, steps) = 10;
  /// The step alpha; 0 (the default) means 2.5 * eps / steps (Madry et al.: enough to cross
  /// the ball and back), the evaluation harness's default too.
  TORCH_ARG(double, step_size) = 0.0;
  /// Start uniformly inside the eps-ball (Linf cube or L2 ball) instead of at x.
  TORCH_ARG(bool, random_init) = true;
  /// Independent runs; per sample the first successful example is kept, else the one with the
  /// highest final objective. Later restarts attack only samples not yet fooled.
  TORCH_ARG(int64_t, restarts) = 1;
  /// Stop attacking a sample once it is fooled; it leaves the forward/backward batch.
  TORCH_ARG(bool, early_stop) = false;
  /// Early-stop checkpoint cadence. A fooled sample is frozen on the device at once (no host
  /// sync); every `early_stop_every` steps the frozen samples leave the batch, at one host sync
  /// per checkpoint. 0 = automatic: every step on CPU (a sync is free there), every 4 steps on
  /// CUDA (the launch queue stays full). Results do not depend on it.
  TORCH_ARG(int64_t, early_stop_every) = 0;
  /// On CUDA, capture one step (forward, backward, fused update) as a CUDA graph per batch and
  /// replay it for the remaining steps; the batch keeps its shape (fooled samples stay frozen,
  /// the early-stop checkpoints only end the loop once all are fooled). A model that cannot be
  /// captured falls back to eager steps with the reason logged. No effect on CPU.
  TORCH_ARG(bool, cuda_graphs) = true;
  /// Judge the last iterate with one more forward (AttackResult::success, and the objective that
  /// picks among restarts). false: no such forward, `success` all false, for a caller that needs
  /// only the example: adversarial training, whose train-mode crafting would otherwise update
  /// BatchNorm's running statistics once more per batch than the references (Madry et al.'s,
  /// Wong et al.'s code: the crafting steps' forwards and the loss's). Needs restarts 1 and no
  /// early stop.
  TORCH_ARG(bool, verdict) = true;
  TORCH_ARG(Loss, loss) = Loss::kCrossEntropy;
  TORCH_ARG(bool, targeted) = false;
  TORCH_ARG(uint64_t, seed) = 0;
  /// Which family of random starts: the harness sets a hash of the attack's id, so two
  /// configured entries (or two eps of one entry) draw independent starts under one seed.
  /// Restart r of a point draws from a stream keyed by (seed, stream, eps, r, the point's id).
  TORCH_ARG(uint64_t, stream) = 0;
  TORCH_ARG(double, clip_min) = 0.0;
  TORCH_ARG(double, clip_max) = 1.0;
};

/// Throws ConfigError for eps < 0, steps < 1, step_size < 0, restarts < 1,
/// early_stop_every < 0, an empty box, or no verdict with restarts or early stop.
void validate(const PGDOptions& options);

/// PGD. Each step, with g the gradient of the objective at x_t:
///   Linf: x_{t+1} = clip_box(x + clip_[-eps,eps](x_t + alpha * sign(g) - x))
///   L2:   x_{t+1} = clip_box(x + P_eps(x_t + alpha * g / ||g||_2 - x)), P_eps the projection
///         onto the L2 ball.
/// With early stop, the forward pass that yields g also checks each sample; fooled samples
/// keep their current iterate and are removed from the batch.
/// `point_ids` as in Attack::run: the random start of a point depends on its id, not on the
/// batch it is in.
AttackResult pgd(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                 const PGDOptions& options, const at::Tensor& point_ids = {});

/// PGD behind the Attack interface. id(): `pgd-linf-0.1`, `pgd-l2-0.5`.
class PGD : public Attack {
 public:
  explicit PGD(PGDOptions options);
  AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids = {}) const override;
  std::string id() const override;
  const PGDOptions& options() const { return options_; }

 private:
  PGDOptions options_;
};

}  // namespace rampart::attacks
