#include "attacks/pgd_step.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "attacks/attack_ops.h"
#include "kernels/l2_step.h"
#include "kernels/linf_step.h"
#include "kernels/success_mask.h"

namespace rampart::attacks::detail {

void pgd_update_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                 const PGDOptions& o) {
  if (o.norm() == Norm::kLinf) {
    kernels::linf_step_(x_adv, x, grad, o.step_size(), o.eps(), o.clip_min(), o.clip_max());
  } else {
    kernels::l2_step_(x_adv, x, grad, o.step_size(), o.eps(), o.clip_min(), o.clip_max());
  }
}

void pgd_masked_update_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                        const at::Tensor& frozen, const PGDOptions& o) {
  at::Tensor next = x_adv.clone();
  pgd_update_(next, x, grad, o);
  x_adv.copy_(at::where(per_sample(frozen, next), x_adv, next));
}

void pgd_step_in_place(models::Model& model, at::Tensor& x_adv, const at::Tensor& x,
                       const at::Tensor& labels, at::Tensor& frozen, const PGDOptions& o) {
  const InputGradient step = input_gradient(model, x_adv, labels, o.loss(), o.targeted());
  c10::NoGradGuard no_grad;
  if (!o.early_stop()) {
    pgd_update_(x_adv, x, step.grad, o);
    return;
  }
  kernels::update_fooled_(frozen, step.logits, labels, o.targeted());
  pgd_masked_update_(x_adv, x, step.grad, frozen, o);
}

}  // namespace rampart::attacks::detail
