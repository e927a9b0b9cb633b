#include "kernels/cw_step.h"

#include <ATen/ATen.h>

#include <cmath>

#include "kernels/cpu/cw_step_kernel.h"
#include "kernels/per_sample.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {
namespace {

using detail::per_sample;

constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kAdamEps = 1e-8;

void check(const CWState& s, const at::Tensor& grad, const at::Tensor& x_adv, const at::Tensor& x,
           const at::Tensor& hit, const at::Tensor& moving) {
  for (const at::Tensor* t : {&s.m, &s.v, &s.best, &grad, &x_adv, &x}) {
    TORCH_CHECK(t->sizes() == s.w.sizes(), "cw_step_: every [N, ...] tensor must have the shape ",
                s.w.sizes(), ", got ", t->sizes());
    TORCH_CHECK(t->scalar_type() == s.w.scalar_type() && t->device() == s.w.device(),
                "cw_step_: tensors must share one dtype and device");
  }
  const int64_t n = s.w.size(0);
  TORCH_CHECK(s.best_l2.numel() == n && hit.numel() == n && moving.numel() == n,
              "cw_step_: best_l2, hit and moving must have one entry per sample");
  TORCH_CHECK(hit.scalar_type() == at::kBool && moving.scalar_type() == at::kBool,
              "cw_step_: hit and moving must be bool");
  // A CPU mask beside CUDA state would hand the kernel host pointers.
  TORCH_CHECK(s.best_l2.device() == s.w.device() && hit.device() == s.w.device() &&
                  moving.device() == s.w.device(),
              "cw_step_: best_l2, hit and moving must be on the state's device");
}

}  // namespace

void cw_step_reference(CWState& s, const at::Tensor& grad, const at::Tensor& x_adv,
                       const at::Tensor& x, const at::Tensor& hit, const at::Tensor& moving,
                       double lr, int64_t t) {
  const at::Tensor l2 = at::linalg_vector_norm((x_adv - x).flatten(1), 2, at::IntArrayRef{1});
  const at::Tensor improved = hit.logical_and(l2.lt(s.best_l2));
  s.best_l2.copy_(at::where(improved, l2, s.best_l2));
  s.best.copy_(at::where(per_sample(improved, x), x_adv, s.best));
  const double step = static_cast<double>(t);
  const at::Tensor keep = per_sample(moving, s.w);
  const at::Tensor m = at::where(keep, s.m * kBeta1 + grad * (1 - kBeta1), s.m);
  const at::Tensor v = at::where(keep, s.v * kBeta2 + grad * grad * (1 - kBeta2), s.v);
  s.w.copy_(at::where(keep,
                      s.w - lr * (m / (1 - std::pow(kBeta1, step))) /
                                ((v / (1 - std::pow(kBeta2, step))).sqrt() + kAdamEps),
                      s.w));
  s.m.copy_(m);
  s.v.copy_(v);
}

void cw_step_(CWState& s, const at::Tensor& grad, const at::Tensor& x_adv, const at::Tensor& x,
              const at::Tensor& hit, const at::Tensor& moving, double lr, int64_t t) {
  check(s, grad, x_adv, x, hit, moving);
  TORCH_CHECK(t >= 1, "cw_step_: Adam step t must be >= 1, got ", t);
  const bool fusable =
      s.w.scalar_type() == at::kFloat && s.best_l2.scalar_type() == at::kFloat && s.w.numel() > 0;
  for (const at::Tensor* state : {&s.w, &s.m, &s.v, &s.best, &s.best_l2}) {
    if (!state->is_contiguous()) {
      // In-place updates need the caller's own storage; strided state takes the ATen path.
      cw_step_reference(s, grad, x_adv, x, hit, moving, lr, t);
      return;
    }
  }
  if (!fusable) {
    if (s.w.numel() > 0) cw_step_reference(s, grad, x_adv, x, hit, moving, lr, t);
    return;
  }
  const at::Tensor gc = grad.contiguous(), ac = x_adv.contiguous(), xc = x.contiguous();
  const at::Tensor hc = hit.contiguous(), mc = moving.contiguous();
  const double step = static_cast<double>(t);
  const float bias1 = static_cast<float>(1 - std::pow(kBeta1, step));
  const float bias2 = static_cast<float>(1 - std::pow(kBeta2, step));
  if (s.w.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    cuda::cw_step_cuda(s.w, s.m, s.v, s.best, s.best_l2, gc, ac, xc, hc, mc, static_cast<float>(lr),
                       bias1, bias2);
#else
    TORCH_CHECK(false, "cw_step_: CUDA tensor but Rampart was built without CUDA");
#endif
    return;
  }
  const int64_t n = s.w.size(0);
  cpu::CWStepArgs a{s.w.data_ptr<float>(),
                    s.m.data_ptr<float>(),
                    s.v.data_ptr<float>(),
                    s.best.data_ptr<float>(),
                    s.best_l2.data_ptr<float>(),
                    gc.data_ptr<float>(),
                    ac.data_ptr<float>(),
                    xc.data_ptr<float>(),
                    hc.data_ptr<bool>(),
                    mc.data_ptr<bool>(),
                    n,
                    s.w.numel() / n,
                    static_cast<float>(lr),
                    bias1,
                    bias2};
  cpu::cw_step(a);
}

}  // namespace rampart::kernels
