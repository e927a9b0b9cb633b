#include "defenses/adversarial_training.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>

#include "attacks/pgd.h"
#include "core/error.h"
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
  }
  return "unknown";
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
  return 2.5 * o.eps() / static_cast<double>(o.steps());
}

training::BatchObjective adversarial_objective(models::Model& model, const at::Tensor& x,
                                               const at::Tensor& y,
                                               const AdversarialTrainingOptions& o, uint64_t seed) {
  validate(o);
  namespace F = torch::nn::functional;
  if (o.method() == AdversarialMethod::kTrades) {
    const at::Tensor x_adv = detail::trades_example(model, x, o, seed);
    const at::Tensor clean = model.forward(x);
    const at::Tensor adversarial = model.forward(x_adv);
    const at::Tensor loss =
        F::cross_entropy(clean, y) + o.beta() * detail::kl_clean_adversarial(clean, adversarial);
    return {loss, clean.detach()};
  }
  // pgd_at, and fgsm_rs as its one-step case: a uniform start in the ball, one sign step of
  // 1.25 * eps, projection onto the ball and the box (Wong et al. 2020, Algorithm 3).
  const bool fgsm = o.method() == AdversarialMethod::kFgsmRs;
  const auto pgd = attacks::PGDOptions(o.eps())
                       .steps(fgsm ? 1 : o.steps())
                       .step_size(effective_step_size(o))
                       .random_init(fgsm || o.random_init())
                       .early_stop(false)
                       .seed(seed)
                       .clip_min(o.clip_min())
                       .clip_max(o.clip_max());
  const at::Tensor x_adv = o.eps() > 0 ? attacks::pgd(model, x, y, pgd).adversarial : x;
  const at::Tensor adversarial = model.forward(x_adv);
  at::Tensor loss = F::cross_entropy(adversarial, y);
  if (o.clean_weight() > 0) {
    loss =
        (1.0 - o.clean_weight()) * loss + o.clean_weight() * F::cross_entropy(model.forward(x), y);
  }
  return {loss, adversarial.detach()};
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
