#include "kernels/l2_step.h"

#include <ATen/ATen.h>

#include "kernels/cpu/step_kernels.h"
#include "kernels/per_sample.h"
#include "kernels/step_checks.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {
namespace {

using detail::per_sample;

at::Tensor l2_norms(const at::Tensor& t) { return t.flatten(1).norm(2, 1); }

}  // namespace

at::Tensor l2_step_reference(const at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                             double alpha, double eps, double lo, double hi) {
  const at::Tensor step = x_adv + alpha * grad / per_sample(l2_norms(grad).clamp_min(1e-12), grad);
  at::Tensor delta = step - x;
  const at::Tensor scale = (eps / l2_norms(delta).clamp_min(1e-12)).clamp_max(1.0);
  return (x + delta * per_sample(scale, delta)).clamp(lo, hi);
}

void l2_step_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad, double alpha,
              double eps, double lo, double hi) {
  detail::check_step_inputs(x_adv, x, grad, "l2_step_");
  TORCH_CHECK(x_adv.dim() >= 1, "l2_step_: expected a batch [N, ...]");
  if (x_adv.scalar_type() != at::kFloat || x_adv.numel() == 0) {
    if (x_adv.numel() > 0) x_adv.copy_(l2_step_reference(x_adv, x, grad, alpha, eps, lo, hi));
    return;
  }
  at::Tensor out = x_adv.is_contiguous() ? x_adv : x_adv.contiguous();
  const at::Tensor xc = x.contiguous(), gc = grad.contiguous();
  const auto f = [](double v) { return static_cast<float>(v); };
  if (out.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    cuda::l2_step_cuda(out, xc, gc, f(alpha), f(eps), f(lo), f(hi));
#else
    TORCH_CHECK(false, "l2_step_: CUDA tensor but Rampart was built without CUDA");
#endif
  } else {
    const int64_t samples = out.size(0);
    cpu::l2_step(out.data_ptr<float>(), xc.data_ptr<float>(), gc.data_ptr<float>(), samples,
                 out.numel() / samples, f(alpha), f(eps), f(lo), f(hi));
  }
  if (!out.is_same(x_adv)) x_adv.copy_(out);
}

}  // namespace rampart::kernels
