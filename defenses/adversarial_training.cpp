#include "defenses/adversarial_training.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>

#include "attacks/attack_ops.h"
#include "attacks/pgd.h"
#include "core/error.h"
#include "defenses/current_mode_view.h"
#include "defenses/trades.h"

namespace rampart::defenses {

std::string to_string(AdversarialMethod method) {
  switch (method) {
    case AdversarialMethod::kPgdAt:
      return "pgd_at";
    case AdversarialMethod::kFgsmRs:
      return "fgsm_rs";
    case AdversarialMethod::kTrades:
      return "trades";
    case AdversarialMethod::kEnsembleAt:
      return "ensemble_at";
  }
  return "unknown";
}

std::string to_string(CraftMode mode) {
  switch (mode) {
    case CraftMode::kDefault:
      return "default";
    case CraftMode::kTrain:
      return "train";
    case CraftMode::kEval:
      return "eval";
  }
  return "unknown";
}

CraftMode effective_craft_mode(const AdversarialTrainingOptions& o) {
  if (o.craft_mode() != CraftMode::kDefault) return o.craft_mode();
  return o.method() == AdversarialMethod::kTrades ? CraftMode::kEval : CraftMode::kTrain;
}

void validate(const AdversarialTrainingOptions& o) {
  if (!(o.eps() >= 0)) throw ConfigError("defense.eps must be >= 0");
  if (o.steps() < 1) throw ConfigError("defense.steps must be >= 1");
  if (!(o.step_size() >= 0)) throw ConfigError("defense.step_size must be >= 0 (0 = default)");
  if (!(o.clean_weight() >= 0 && o.clean_weight() <= 1)) {
    throw ConfigError("defense.clean_weight must be in [0, 1]");
  }
  if (!(o.beta() >= 0)) throw ConfigError("defense.beta must be >= 0");
  if (!(o.clip_min() < o.clip_max())) throw ConfigError("defense: the box needs min < max");
}

double effective_step_size(const AdversarialTrainingOptions& o) {
  if (o.step_size() > 0) return o.step_size();
  if (o.method() == AdversarialMethod::kFgsmRs) return 1.25 * o.eps();
  if (o.method() == AdversarialMethod::kEnsembleAt && o.steps() == 1) {
    return o.random_init() ? 1.25 * o.eps() : o.eps();
  }
  return 2.5 * o.eps() / static_cast<double>(o.steps());
}

namespace {

// PGD examples against `source` with the options' steps, step and start (fgsm_rs: one step
// from a random start, Wong et al. 2020, Algorithm 3). The source's parameters are frozen for
// the crafting only (attacks::pgd's guard); in train crafting mode it stays in its own mode
// (the references' train mode: batch statistics, updated running averages), in eval mode the
// guard switches it to eval.
at::Tensor craft(models::Model& source, const at::Tensor& x, const at::Tensor& y,
                 const AdversarialTrainingOptions& o, uint64_t seed) {
  if (!(o.eps() > 0)) return x;
  CurrentModeView as_it_is(source);
  models::Model& crafted_on =
      effective_craft_mode(o) == CraftMode::kTrain ? static_cast<models::Model&>(as_it_is) : source;
  const bool fgsm = o.method() == AdversarialMethod::kFgsmRs;
  const auto pgd = attacks::PGDOptions(o.eps())
                       .steps(fgsm ? 1 : o.steps())
                       .step_size(effective_step_size(o))
                       .random_init(fgsm || o.random_init())
                       .early_stop(false)
                       .verdict(false)  // the references' forwards only (attacks/pgd.h)
                       .seed(seed)
                       .clip_min(o.clip_min())
                       .clip_max(o.clip_max());
  return attacks::pgd(crafted_on, x, y, pgd).adversarial;
}

training::BatchObjective mixed_loss(models::Model& model, const at::Tensor& x,
                                    const at::Tensor& x_adv, const at::Tensor& y,
                                    double clean_weight) {
  namespace F = torch::nn::functional;
  const at::Tensor adversarial = model.forward(x_adv);
  at::Tensor loss = F::cross_entropy(adversarial, y);
  if (clean_weight > 0) {
    loss = (1.0 - clean_weight) * loss + clean_weight * F::cross_entropy(model.forward(x), y);
  }
  return {loss, adversarial.detach()};
}

}  // namespace

std::size_t ensemble_source(uint64_t seed, std::size_t static_count) {
  return static_cast<std::size_t>((seed >> 17) % (static_count + 1));
}

EnsembleObjective ensemble_adversarial_objective(
    models::Model& model, const std::vector<std::shared_ptr<models::Model>>& static_models,
    const at::Tensor& x, const at::Tensor& y, const AdversarialTrainingOptions& o,
    uint64_t seed) {
  validate(o);
  EnsembleObjective out;
  out.source = ensemble_source(seed, static_models.size());
  models::Model& source = out.source == 0 ? model : *static_models.at(out.source - 1);
  out.objective = mixed_loss(model, x, craft(source, x, y, o, seed), y, o.clean_weight());
  return out;
}

training::BatchObjective adversarial_objective(models::Model& model, const at::Tensor& x,
                                               const at::Tensor& y,
                                               const AdversarialTrainingOptions& o, uint64_t seed) {
  validate(o);
  namespace F = torch::nn::functional;
  if (o.method() == AdversarialMethod::kTrades) {
    // PGD checks the batch for the other methods; the TRADES loop would clamp inputs outside
    // the box into it without a word.
    attacks::detail::check_batch(x, y, o.clip_min(), o.clip_max(), "trades");
    const at::Tensor x_adv = detail::trades_example(model, x, o, seed);
    const at::Tensor clean = model.forward(x);
    const at::Tensor adversarial = model.forward(x_adv);
    const at::Tensor loss =
        F::cross_entropy(clean, y) + o.beta() * detail::kl_clean_adversarial(clean, adversarial);
    return {loss, clean.detach()};
  }
  // pgd_at, fgsm_rs (its one-step case) and ensemble_at without static models.
  return mixed_loss(model, x, craft(model, x, y, o, seed), y, o.clean_weight());
}

StepResult adversarial_training_step(models::Model& model, torch::optim::Optimizer& optimizer,
                                     const at::Tensor& x, const at::Tensor& y,
                                     const AdversarialTrainingOptions& options, uint64_t seed) {
  optimizer.zero_grad();
  const training::BatchObjective objective = adversarial_objective(model, x, y, options, seed);
  objective.loss.backward();
  optimizer.step();
  StepResult result;
  result.loss = objective.loss.item<double>();
  result.accuracy = objective.logits.argmax(1).eq(y).to(at::kDouble).mean().item<double>();
  return result;
}

}  // namespace rampart::defenses
