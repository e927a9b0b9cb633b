#include "kernels/apgd_step.h"

#include <ATen/ATen.h>

#include <initializer_list>

#include "kernels/cpu/step_kernels.h"
#include "kernels/per_sample.h"
#include "kernels/step_checks.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {
namespace {

using detail::per_sample;

// P: onto the eps-ball around x, then into the box, as autopgd_base.py writes it.
at::Tensor project(const at::Tensor& point, const at::Tensor& x, double eps, double lo, double hi,
                   bool l2) {
  if (!l2) return at::clamp(at::min(at::max(point, x - eps), x + eps), lo, hi);
  const at::Tensor delta = point - x;
  const at::Tensor norm = delta.flatten(1).norm(2, 1);
  const at::Tensor scale = norm.clamp_max(eps) / (norm + 1e-12);
  return (x + delta * per_sample(scale, delta)).clamp(lo, hi);
}

bool fused(const at::Tensor& t) { return t.scalar_type() == at::kFloat && t.numel() > 0; }

void check_per_sample(const at::Tensor& v, const at::Tensor& batch, const char* name) {
  TORCH_CHECK(v.dim() == 1 && v.size(0) == batch.size(0) && v.device() == batch.device(), name,
              " must be [N] on the batch's device, N = ", batch.size(0));
}

}  // namespace

void apgd_step_reference(at::Tensor& x_adv, at::Tensor& x_prev, const at::Tensor& x,
                         const at::Tensor& grad, const at::Tensor& step_size, double alpha,
                         double eps, double lo, double hi, bool l2) {
  const at::Tensor eta = per_sample(step_size.to(x_adv.scalar_type()), x_adv);
  const at::Tensor direction =
      l2 ? grad / per_sample(grad.flatten(1).norm(2, 1) + 1e-12, grad) : grad.sign();
  const at::Tensor z = project(x_adv + eta * direction, x, eps, lo, hi, l2);
  const at::Tensor next =
      project(x_adv + (z - x_adv) * alpha + (x_adv - x_prev) * (1.0 - alpha), x, eps, lo, hi, l2);
  x_prev.copy_(x_adv);
  x_adv.copy_(next);
}

void apgd_step_(at::Tensor& x_adv, at::Tensor& x_prev, const at::Tensor& x, const at::Tensor& grad,
                const at::Tensor& step_size, double alpha, double eps, double lo, double hi,
                bool l2) {
  detail::check_step_inputs(x_adv, x, grad, "apgd_step_");
  detail::check_step_inputs(x_prev, x, grad, "apgd_step_");
  check_per_sample(step_size, x_adv, "apgd_step_: step_size");
  const bool contiguous = x_adv.is_contiguous() && x_prev.is_contiguous();
  if (!fused(x_adv) || !contiguous) {
    if (x_adv.numel() > 0) {
      apgd_step_reference(x_adv, x_prev, x, grad, step_size, alpha, eps, lo, hi, l2);
    }
    return;
  }
  const at::Tensor xc = x.contiguous(), gc = grad.contiguous();
  const at::Tensor eta = step_size.to(at::kFloat).contiguous();
  const int64_t samples = x_adv.size(0), dim = x_adv.numel() / samples;
  const auto f = [](double v) { return static_cast<float>(v); };
  if (x_adv.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    cuda::apgd_step_cuda(x_adv, x_prev, xc, gc, eta, f(alpha), f(eps), f(lo), f(hi), l2);
#else
    TORCH_CHECK(false, "apgd_step_: CUDA tensor but Rampart was built without CUDA");
#endif
    return;
  }
  cpu::apgd_step(x_adv.data_ptr<float>(), x_prev.data_ptr<float>(), xc.data_ptr<float>(),
                 gc.data_ptr<float>(), eta.data_ptr<float>(), samples, dim, f(alpha), f(eps), f(lo),
                 f(hi), l2);
}

void apgd_track_reference(at::Tensor& x_best, at::Tensor& grad_best, at::Tensor& loss_best,
                          at::Tensor& x_best_adv, at::Tensor& fooled, at::Tensor& loss_prev,
                          at::Tensor& increases, const at::Tensor& x_adv, const at::Tensor& grad,
                          const at::Tensor& loss, const at::Tensor& fooled_now) {
  const at::Tensor improved = loss.gt(loss_best);
  x_best.copy_(at::where(per_sample(improved, x_best), x_adv, x_best));
  grad_best.copy_(at::where(per_sample(improved, grad_best), grad, grad_best));
  loss_best.copy_(at::where(improved, loss, loss_best));
  increases.add_(loss.gt(loss_prev).to(increases.scalar_type()));
  loss_prev.copy_(loss);
  x_best_adv.copy_(at::where(per_sample(fooled_now, x_best_adv), x_adv, x_best_adv));
  fooled.logical_or_(fooled_now);
}

void apgd_track_(at::Tensor& x_best, at::Tensor& grad_best, at::Tensor& loss_best,
                 at::Tensor& x_best_adv, at::Tensor& fooled, at::Tensor& loss_prev,
                 at::Tensor& increases, const at::Tensor& x_adv, const at::Tensor& grad,
                 const at::Tensor& loss, const at::Tensor& fooled_now) {
  detail::check_step_inputs(x_best, x_adv, grad, "apgd_track_");
  detail::check_step_inputs(grad_best, x_best_adv, x_adv, "apgd_track_");
  for (const at::Tensor* v : std::initializer_list<const at::Tensor*>{
           &loss_best, &fooled, &loss_prev, &increases, &loss, &fooled_now}) {
    check_per_sample(*v, x_adv, "apgd_track_: per-sample state");
  }
  TORCH_CHECK(fooled.scalar_type() == at::kBool && fooled_now.scalar_type() == at::kBool &&
                  increases.scalar_type() == at::kInt,
              "apgd_track_: fooled and fooled_now must be bool, increases int32");
  const bool all_fused = fused(x_best) && loss.scalar_type() == at::kFloat &&
                         loss_best.scalar_type() == at::kFloat &&
                         loss_prev.scalar_type() == at::kFloat;
  bool contiguous = true;
  for (const at::Tensor* t : std::initializer_list<const at::Tensor*>{
           &x_best, &grad_best, &x_best_adv, &loss_best, &fooled, &loss_prev, &increases}) {
    contiguous = contiguous && t->is_contiguous();
  }
  if (!all_fused || !contiguous) {
    if (x_adv.numel() > 0) {
      apgd_track_reference(x_best, grad_best, loss_best, x_best_adv, fooled, loss_prev, increases,
                           x_adv, grad, loss, fooled_now);
    }
    return;
  }
  const at::Tensor xc = x_adv.contiguous(), gc = grad.contiguous(), lc = loss.contiguous(),
                   nc = fooled_now.contiguous();
  const int64_t samples = x_adv.size(0), dim = x_adv.numel() / samples;
  if (x_adv.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    cuda::apgd_track_cuda(x_best, grad_best, loss_best, x_best_adv, fooled, loss_prev, increases,
                          xc, gc, lc, nc);
#else
    TORCH_CHECK(false, "apgd_track_: CUDA tensor but Rampart was built without CUDA");
#endif
    return;
  }
  cpu::apgd_track(x_best.data_ptr<float>(), grad_best.data_ptr<float>(),
                  loss_best.data_ptr<float>(), x_best_adv.data_ptr<float>(),
                  fooled.data_ptr<bool>(), loss_prev.data_ptr<float>(),
                  increases.data_ptr<int32_t>(), xc.data_ptr<float>(), gc.data_ptr<float>(),
                  lc.data_ptr<float>(), nc.data_ptr<bool>(), samples, dim);
}

}  // namespace rampart::kernels
