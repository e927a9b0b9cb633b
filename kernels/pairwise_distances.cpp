#include "kernels/pairwise_distances.h"

#include <ATen/ATen.h>

#include "kernels/cpu/pairwise_distances_kernel.h"

namespace rampart::kernels {

at::Tensor pairwise_sq_distances_reference(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2, "pairwise_sq_distances: x must be [n, d], got ", x.sizes());
  const at::Tensor xd = x.to(at::kDouble);
  return (xd.unsqueeze(1) - xd.unsqueeze(0)).pow(2).sum(2);
}

at::Tensor pairwise_sq_distances(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2, "pairwise_sq_distances: x must be [n, d], got ", x.sizes());
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
