#include "kernels/square_step.h"

#include <ATen/ATen.h>

#include "kernels/cpu/step_kernels.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {
namespace {

void check_images(const at::Tensor& out, const at::Tensor& x, const at::Tensor& ids,
                  const char* op) {
  TORCH_CHECK(x.dim() == 4, op, ": expected images [N, C, H, W], got ", x.sizes());
  TORCH_CHECK(out.sizes() == x.sizes() && out.device() == x.device(), op,
              ": out must have the shape and device of x");
  TORCH_CHECK(ids.dim() == 1 && ids.size(0) == x.size(0) && ids.device() == x.device(), op,
              ": point_ids must be [N] on x's device, N = ", x.size(0));
}

at::Tensor as_float(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t.contiguous() : t.to(at::kFloat).contiguous();
}

// `out` itself when the fused twins can write it, else a float32 scratch copied back.
at::Tensor writable(at::Tensor& out, const at::Tensor& like) {
  return out.scalar_type() == at::kFloat && out.is_contiguous() ? out : at::empty_like(like);
}

float f(double v) { return static_cast<float>(v); }

}  // namespace

void square_linf_start(at::Tensor& out, const at::Tensor& x, const at::Tensor& point_ids,
                       double eps, double lo, double hi, uint64_t key) {
  check_images(out, x, point_ids, "square_linf_start");
  if (x.numel() == 0) return;
  const at::Tensor xc = as_float(x), ids = point_ids.to(at::kLong).contiguous();
  at::Tensor drawn = writable(out, xc);
  if (xc.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    cuda::square_linf_start_cuda(drawn, xc, ids, f(eps), f(lo), f(hi), key);
#else
    TORCH_CHECK(false, "square_linf_start: CUDA tensor but Rampart was built without CUDA");
#endif
  } else {
    cpu::square_linf_start(drawn.data_ptr<float>(), xc.data_ptr<float>(), ids.data_ptr<int64_t>(),
                           xc.size(0), xc.size(1), xc.size(2), xc.size(3), f(eps), f(lo), f(hi),
                           key);
  }
  if (!drawn.is_same(out)) out.copy_(drawn);
}

void square_linf_proposal(at::Tensor& out, const at::Tensor& x_best, const at::Tensor& x,
                          const at::Tensor& point_ids, int64_t side, int64_t iteration,
                          double eps, double lo, double hi, uint64_t key) {
  check_images(out, x, point_ids, "square_linf_proposal");
  TORCH_CHECK(x_best.sizes() == x.sizes() && x_best.device() == x.device(),
              "square_linf_proposal: x_best must have the shape and device of x");
  TORCH_CHECK(side >= 1 && side <= x.size(2) && side <= x.size(3),
              "square_linf_proposal: the window side must be in [1, min(H, W)], got ", side);
  if (x.numel() == 0) return;
  const at::Tensor xc = as_float(x), bc = as_float(x_best),
                   ids = point_ids.to(at::kLong).contiguous();
  at::Tensor drawn = writable(out, xc);
  if (xc.is_cuda()) {
#ifdef RAMPART_WITH_CUDA
    cuda::square_linf_proposal_cuda(drawn, bc, xc, ids, side, iteration, f(eps), f(lo), f(hi), key);
#else
    TORCH_CHECK(false, "square_linf_proposal: CUDA tensor but Rampart was built without CUDA");
#endif
  } else {
    cpu::square_linf_proposal(drawn.data_ptr<float>(), bc.data_ptr<float>(), xc.data_ptr<float>(),
                              ids.data_ptr<int64_t>(), xc.size(0), xc.size(1), xc.size(2),
                              xc.size(3), side, iteration, f(eps), f(lo), f(hi), key);
  }
  if (!drawn.is_same(out)) out.copy_(drawn);
}

}  // namespace rampart::kernels
