#pragma once

#include <torch/arg.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "training/trainer.h"

namespace rampart::defenses {

/// The adversarial training methods.
enum class AdversarialMethod {
  kPgdAt,   ///< Madry et al. 2018: train on PGD examples
  kFgsmRs,  ///< Wong et al. 2020 ("Fast is better than free"): FGSM from a random start
  kTrades,  ///< Zhang et al. 2019: CE(clean) + beta * KL(clean || adversarial)
  /// Tramer et al. 2018: examples crafted against the model or against static pre-trained
  /// models, a different source per batch (see ensemble_adversarial_objective).
  kEnsembleAt,
};

/// "pgd_at", "fgsm_rs", "trades", "ensemble_at".
std::string to_string(AdversarialMethod method);

/// The mode the model is in while its training examples are crafted.
enum class CraftMode {
  kDefault,  ///< the method's reference: train for pgd_at, fgsm_rs, ensemble_at; eval for trades
  kTrain,    ///< the model's own mode (train mode in a training loop): batch statistics
  kEval,     ///< eval mode: batch norm's running statistics, no dropout
};

/// "default", "train", "eval".
std::string to_string(CraftMode mode);

/// Options of one adversarial training step (Linf threat model, inputs in [clip_min, clip_max]).
///
/// Example:
///   auto options = defenses::AdversarialTrainingOptions(defenses::AdversarialMethod::kPgdAt, 0.1)
///                      .steps(10).step_size(0.025);
struct AdversarialTrainingOptions {
  AdversarialTrainingOptions(AdversarialMethod method, double eps) : method_(method), eps_(eps) {}
  TORCH_ARG(AdversarialMethod, method);
  TORCH_ARG(double, eps);
  /// Inner steps: pgd_at and trades (fgsm_rs takes one).
  TORCH_ARG(int64_t, steps) = 10;
  /// 0 = the method's default: 2.5 * eps / steps (pgd_at, trades, ensemble_at), 1.25 * eps
  /// (fgsm_rs; ensemble_at with one step and a random start), eps (one step, no random start).
  TORCH_ARG(double, step_size) = 0.0;
  /// pgd_at, ensemble_at: start uniformly in the eps-ball (fgsm_rs always does; trades starts
  /// within 0.001).
  TORCH_ARG(bool, random_init) = true;
  /// pgd_at, ensemble_at: loss = (1 - w) * CE(adversarial) + w * CE(clean); 0 trains on
  /// adversarial examples only.
  TORCH_ARG(double, clean_weight) = 0.0;
  /// trades: the weight of the KL term.
  TORCH_ARG(double, beta) = 6.0;
  /// The model's mode while crafting. The default follows each method's reference code:
  /// Madry et al. (pgd_at), Wong et al. (fgsm_rs) and Tramer et al. (ensemble_at) craft in
  /// train mode, with batch statistics; Zhang et al. (trades) in eval mode.
  TORCH_ARG(CraftMode, craft_mode) = CraftMode::kDefault;
  TORCH_ARG(double, clip_min) = 0.0;
  TORCH_ARG(double, clip_max) = 1.0;
};

/// Throws ConfigError naming the option: eps < 0, steps < 1, step_size < 0, clean_weight
/// outside [0, 1], beta < 0, an empty box.
void validate(const AdversarialTrainingOptions& options);

/// The crafting mode actually used (the method's default for kDefault): kTrain or kEval.
CraftMode effective_craft_mode(const AdversarialTrainingOptions& options);

/// The step size actually used (the method's default when step_size is 0).
double effective_step_size(const AdversarialTrainingOptions& options);

/// The loss of one adversarial training step on the batch (x, y). The examples are crafted
/// with the model in the options' craft_mode and its parameters frozen (no parameter
/// gradients), then the
/// loss is computed in the model's own mode (train mode in a training loop), ready for
/// backward(). `seed` draws the random starts. The logits are those of the examples trained
/// on (adversarial; the clean ones for trades' accuracy, as its CE term is on clean points).
training::BatchObjective adversarial_objective(models::Model& model, const at::Tensor& x,
                                               const at::Tensor& y,
                                               const AdversarialTrainingOptions& options,
                                               uint64_t seed);

/// Ensemble adversarial training's loss on one batch (Tramer et al. 2018): the adversarial
/// examples (PGD with the options' steps, step size and start; one step for FGSM) are crafted
/// against one source, drawn from `seed` uniformly among the model itself and the
/// `static_models` (pre-trained, never updated), so that the model learns from perturbations
/// it did not make itself; the loss is (1 - clean_weight) * CE(adversarial) + clean_weight *
/// CE(clean) on the model. Returns the source index too (0: the model, k: static model k).
struct EnsembleObjective {
  training::BatchObjective objective;
  std::size_t source = 0;
};
EnsembleObjective ensemble_adversarial_objective(
    models::Model& model, const std::vector<std::shared_ptr<models::Model>>& static_models,
    const at::Tensor& x, const at::Tensor& y, const AdversarialTrainingOptions& options,
    uint64_t seed);

/// The source of a batch's examples: 0 (the model) or 1..static_count, uniform over seeds.
std::size_t ensemble_source(uint64_t seed, std::size_t static_count);

/// What one adversarial training step did.
struct StepResult {
  double loss = 0.0;      ///< the batch loss before the update
  double accuracy = 0.0;  ///< accuracy of the objective's logits
};

/// One whole step for a user's own training loop: zero_grad, adversarial_objective, backward,
/// optimizer step. Syncs with the device once (for the returned numbers).
///
/// Example:
///   models::ClassifierModel model(net);
///   torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
///   for (auto& batch : batches) {
///     auto r = defenses::adversarial_training_step(model, sgd, batch.x, batch.y, options, step++);
///   }
StepResult adversarial_training_step(models::Model& model, torch::optim::Optimizer& optimizer,
                                     const at::Tensor& x, const at::Tensor& y,
                                     const AdversarialTrainingOptions& options, uint64_t seed);

}  // namespace rampart::defenses
