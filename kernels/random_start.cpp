#include "kernels/random_start.h"

#include <ATen/ATen.h>

#include "kernels/cpu/step_kernels.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {
namespace {

enum class Ball { kLinf, kL2 };

void random_start(at::Tensor& out, const at::Tensor& x, Ball ball, double eps, double lo, double hi,
                  uint64_t seed, const char* op) {
  TORCH_CHECK(out.sizes() == x.sizes() && out.device() == x.device(), op,
              ": out must have the shape and device of x, got ", out.sizes(), " and ", x.sizes());
  TORCH_CHECK(x.dim() >= 1, op, ": expected a batch [N, ...]");
  TORCH_CHECK(eps >= 0, op, ": eps must be >= 0");
  if (x.numel() == 0) return;
  const at::Tensor xc =
      x.scalar_type() == at::kFloat ? x.contiguous() : x.to(at::kFloat).contiguous();
  at::Tensor drawn =
      out.scalar_type() == at::kFloat && out.is_contiguous() ? out : at::empty_like(xc);
  const auto f = [](double v) { return static_cast<float>(v); };
  const int64_t samples = xc.size(0), dim = xc.numel() / samples;
  if (xc.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    if (ball == Ball::kLinf) {
      cuda::linf_random_start_cuda(drawn, xc, f(eps), f(lo), f(hi), seed);
    } else {
      cuda::l2_random_start_cuda(drawn, xc, f(eps), f(lo), f(hi), seed);
    }
#else
    TORCH_CHECK(false, op, ": CUDA tensor but Rampart was built without CUDA");
#endif
  } else if (ball == Ball::kLinf) {
    cpu::linf_random_start(drawn.data_ptr<float>(), xc.data_ptr<float>(), xc.numel(), f(eps), f(lo),
                           f(hi), seed);
  } else {
    cpu::l2_random_start(drawn.data_ptr<float>(), xc.data_ptr<float>(), samples, dim, f(eps), f(lo),
                         f(hi), seed);
  }
  if (!drawn.is_same(out)) out.copy_(drawn);
}

}  // namespace

void linf_random_start(at::Tensor& out, const at::Tensor& x, double eps, double lo, double hi,
                       uint64_t seed) {
  random_start(out, x, Ball::kLinf, eps, lo, hi, seed, "linf_random_start");
}

void l2_random_start(at::Tensor& out, const at::Tensor& x, double eps, double lo, double hi,
                     uint64_t seed) {
  random_start(out, x, Ball::kL2, eps, lo, hi, seed, "l2_random_start");
}

}  // namespace rampart::kernels
