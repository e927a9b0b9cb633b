#include "kernels/linf_step.h"

#include <ATen/ATen.h>

#include "kernels/cpu/step_kernels.h"
#include "kernels/step_checks.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {

at::Tensor linf_step_reference(const at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                               double alpha, double eps, double lo, double hi) {
  const at::Tensor delta = (x_adv + alpha * grad.sign() - x).clamp(-eps, eps);
  return (x + delta).clamp(lo, hi);
}

void linf_step_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad, double alpha,
                double eps, double lo, double hi) {
  detail::check_step_inputs(x_adv, x, grad, "linf_step_");
  if (x_adv.scalar_type() != at::kFloat) {
    x_adv.copy_(linf_step_reference(x_adv, x, grad, alpha, eps, lo, hi));
    return;
  }
  at::Tensor out = x_adv.is_contiguous() ? x_adv : x_adv.contiguous();
  const at::Tensor xc = x.contiguous(), gc = grad.contiguous();
  const auto f = [](double v) { return static_cast<float>(v); };
  if (out.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    cuda::linf_step_cuda(out, xc, gc, f(alpha), f(eps), f(lo), f(hi));
#else
    TORCH_CHECK(false, "linf_step_: CUDA tensor but Rampart was built without CUDA");
#endif
  } else {
    cpu::linf_step(out.data_ptr<float>(), xc.data_ptr<float>(), gc.data_ptr<float>(), out.numel(),
                   f(alpha), f(eps), f(lo), f(hi));
  }
  if (!out.is_same(x_adv)) x_adv.copy_(out);
}

}  // namespace rampart::kernels
