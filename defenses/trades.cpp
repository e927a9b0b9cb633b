#include "defenses/trades.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include "kernels/linf_step.h"
#include "kernels/random_start.h"

namespace rampart::defenses::detail {

at::Tensor kl_clean_adversarial(const at::Tensor& clean_logits, const at::Tensor& adv_logits) {
  const at::Tensor log_p = clean_logits.log_softmax(1);
  const at::Tensor log_q = adv_logits.log_softmax(1);
  return (log_p.exp() * (log_p - log_q)).sum(1).mean();
}

at::Tensor trades_example(models::Model& model, const at::Tensor& x,
                          const AdversarialTrainingOptions& o, uint64_t seed) {
  models::AttackModeGuard guard(model);
  c10::InferenceMode not_inference(false);
  at::Tensor clean;
  {
    c10::NoGradGuard no_grad;
    clean = model.forward(x).detach();
  }
  const double lo = o.clip_min(), hi = o.clip_max();
  at::Tensor x_adv = at::empty_like(x, at::MemoryFormat::Contiguous);
  kernels::linf_random_start(x_adv, x, std::min(0.001, o.eps()), lo, hi, seed);
  const double alpha = effective_step_size(o);
  for (int64_t t = 0; t < o.steps(); ++t) {
    at::Tensor grad;
    {
      c10::AutoGradMode enable_grad(true);
      const at::Tensor leaf = x_adv.detach().requires_grad_(true);
      // Summed over the batch, so each sample's gradient is its own KL's.
      const at::Tensor kl = kl_clean_adversarial(clean, model.forward(leaf)) * x.size(0);
      grad = torch::autograd::grad({kl}, {leaf})[0];
    }
    c10::NoGradGuard no_grad;
    kernels::linf_step_(x_adv, x, grad, alpha, o.eps(), lo, hi);
  }
  return x_adv.detach();
}

}  // namespace rampart::defenses::detail
