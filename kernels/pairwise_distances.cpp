#include "kernels/pairwise_distances.h"

#include <ATen/ATen.h>

#include "kernels/cpu/pairwise_distances_kernel.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {
namespace {

// The CUDA twin keeps one block per pair: it takes up to 256 rows (a round's updates).
constexpr int64_t kMaxCudaRows = 256;

}  // namespace

at::Tensor pairwise_sq_distances_reference(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2, "pairwise_sq_distances: x must be [n, d], got ", x.sizes());
  const at::Tensor xd = x.to(at::kDouble);
  return (xd.unsqueeze(1) - xd.unsqueeze(0)).pow(2).sum(2);
}

at::Tensor pairwise_sq_distances(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2, "pairwise_sq_distances: x must be [n, d], got ", x.sizes());
#ifdef RAMPART_WITH_CUDA
  if (x.is_cuda() && x.scalar_type() == at::kFloat && x.size(0) <= kMaxCudaRows) {
    // Rows may lie apart (received frames viewed in place); coordinates must be contiguous.
    const at::Tensor xc = x.stride(1) == 1 && x.stride(0) >= x.size(1) ? x : x.contiguous();
    at::Tensor out = at::empty({x.size(0), x.size(0)}, xc.options().dtype(at::kDouble));
    cuda::pairwise_sq_distances_cuda(out, xc, xc.stride(0));
    return out;
  }
#endif
  if (x.scalar_type() != at::kFloat || !x.device().is_cpu()) {
    // Differences in float64 row by row, without the [n, n, d] temporary.
    const int64_t n = x.size(0);
    const at::Tensor xd = x.to(at::kDouble);
    at::Tensor out = at::zeros({n, n}, xd.options());
    for (int64_t i = 0; i < n; ++i) out[i] = (xd - xd[i]).pow(2).sum(1);
    return out;
  }
  const at::Tensor xc = x.contiguous();
  at::Tensor out = at::empty({x.size(0), x.size(0)}, xc.options().dtype(at::kDouble));
  cpu::pairwise_sq_distances(xc.data_ptr<float>(), x.size(0), x.size(1), out.data_ptr<double>());
  return out;
}

}  // namespace rampart::kernels
