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
                  uint64_t key, const at::Tensor& point_ids, const char* op) {
  TORCH_CHECK(out.sizes() == x.sizes() && out.device() == x.device(), op,
              ": out must have the shape and device of x, got ", out.sizes(), " and ", x.sizes());
  TORCH_CHECK(x.dim() >= 1, op, ": expected a batch [N, ...]");
  TORCH_CHECK(eps >= 0, op, ": eps must be >= 0");
  TORCH_CHECK(!point_ids.defined() || (point_ids.dim() == 1 && point_ids.size(0) == x.size(0)), op,
              ": point_ids must be [N] with N = ", x.size(0));
  if (x.numel() == 0) return;
  const at::Tensor xc =
      x.scalar_type() == at::kFloat ? x.contiguous() : x.to(at::kFloat).contiguous();
  const at::Tensor ids =
      point_ids.defined()
          ? point_ids.to(x.device(), at::kLong).contiguous()
          : at::arange(x.size(0), at::TensorOptions().device(x.device()).dtype(at::kLong));
  at::Tensor drawn =
      out.scalar_type() == at::kFloat && out.is_contiguous() ? out : at::empty_like(xc);
  const auto f = [](double v) { return static_cast<float>(v); };
  const int64_t samples = xc.size(0), dim = xc.numel() / samples;
  if (xc.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    if (ball == Ball::kLinf) {
      cuda::linf_random_start_cuda(drawn, xc, ids, f(eps), f(lo), f(hi), key);
    } else {
      cuda::l2_random_start_cuda(drawn, xc, ids, f(eps), f(lo), f(hi), key);
    }
#else
    TORCH_CHECK(false, op, ": CUDA tensor but Rampart was built without CUDA");
#endif
  } else if (ball == Ball::kLinf) {
    cpu::linf_random_start(drawn.data_ptr<float>(), xc.data_ptr<float>(), ids.data_ptr<int64_t>(),
                           samples, dim, f(eps), f(lo), f(hi), key);
  } else {
    cpu::l2_random_start(drawn.data_ptr<float>(), xc.data_ptr<float>(), ids.data_ptr<int64_t>(),
                         samples, dim, f(eps), f(lo), f(hi), key);
  }
  if (!drawn.is_same(out)) out.copy_(drawn);
}

}  // namespace

void linf_random_start(at::Tensor& out, const at::Tensor& x, double eps, double lo, double hi,
                       uint64_t key, const at::Tensor& point_ids) {
  random_start(out, x, Ball::kLinf, eps, lo, hi, key, point_ids, "linf_random_start");
}

void l2_random_start(at::Tensor& out, const at::Tensor& x, double eps, double lo, double hi,
                     uint64_t key, const at::Tensor& point_ids) {
  random_start(out, x, Ball::kL2, eps, lo, hi, key, point_ids, "l2_random_start");
}

}  // namespace rampart::kernels
