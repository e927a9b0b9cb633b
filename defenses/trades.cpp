#include "defenses/trades.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include "defenses/current_mode_view.h"
#include "kernels/linf_step.h"

namespace rampart::defenses::detail {

at::Tensor kl_clean_adversarial(const at::Tensor& clean_logits, const at::Tensor& adv_logits) {
  const at::Tensor log_p = clean_logits.log_softmax(1);
  const at::Tensor log_q = adv_logits.log_softmax(1);
  return (log_p.exp() * (log_p - log_q)).sum(1).mean();
}

at::Tensor trades_example(models::Model& model, const at::Tensor& x,
                          const AdversarialTrainingOptions& o, uint64_t seed) {
  CurrentModeView as_it_is(model);
  models::Model& crafted_on = effective_craft_mode(o) == CraftMode::kTrain
                                  ? static_cast<models::Model&>(as_it_is)
                                  : model;
  models::AttackModeGuard guard(crafted_on);
  c10::InferenceMode not_inference(false);
  at::Tensor clean;
  {
    c10::NoGradGuard no_grad;
    clean = crafted_on.forward(x).detach();
  }
  const double lo = o.clip_min(), hi = o.clip_max();
  // The reference's start (yaodongyu/TRADES, trades.py): x + 0.001 * randn, neither projected
  // nor clipped before the first step. Drawn on the CPU from the batch's seed, so a CPU and a
  // CUDA run start alike (one copy per batch, not per step).
  at::Generator generator = at::detail::createCPUGenerator(seed);
  at::Tensor x_adv =
      (x + 0.001 * at::randn(x.sizes(), generator, x.options().device(at::kCPU)).to(x.device()))
          .contiguous();
  const double alpha = effective_step_size(o);
  for (int64_t t = 0; t < o.steps(); ++t) {
    at::Tensor grad;
    {
      c10::AutoGradMode enable_grad(true);
      const at::Tensor leaf = x_adv.detach().requires_grad_(true);
      // Summed over the batch, so each sample's gradient is its own KL's.
      const at::Tensor kl = kl_clean_adversarial(clean, crafted_on.forward(leaf)) * x.size(0);
      grad = torch::autograd::grad({kl}, {leaf})[0];
    }
    c10::NoGradGuard no_grad;
    kernels::linf_step_(x_adv, x, grad, alpha, o.eps(), lo, hi);
  }
  return x_adv.detach();
}

}  // namespace rampart::defenses::detail
