#include "kernels/coordinate_stats.h"

#include <ATen/ATen.h>

#include "kernels/cpu/coordinate_stats_kernel.h"
#ifdef RAMPART_WITH_CUDA
#include "kernels/cuda/aten_cuda.h"
#endif

namespace rampart::kernels {
namespace {

constexpr int64_t kMaxNetworkWires = 256;

void check_range(const at::Tensor& x, int64_t lo, int64_t hi,
                 const char* name = "sorted_range_mean") {
  TORCH_CHECK(x.dim() == 2, name, ": x must be [n, d], got ", x.sizes());
  TORCH_CHECK(0 <= lo && lo < hi && hi <= x.size(0), name, ": ranks [", lo, ", ", hi,
              ") are not a non-empty range of the ", x.size(0), " rows");
}

// Rows may lie apart (the payloads of received frames, viewed in place): the kernels take the
// row stride; only coordinates must be contiguous.
at::Tensor rows_with_unit_stride(const at::Tensor& x) {
  return x.stride(1) == 1 && x.stride(0) >= x.size(1) ? x : x.contiguous();
}

// float32 on the CPU, or on CUDA when Rampart is built with CUDA, with at most 256 rows.
bool fused_kernel_applies(const at::Tensor& x) {
#ifdef RAMPART_WITH_CUDA
  const bool device_ok = x.device().is_cpu() || x.is_cuda();
#else
  const bool device_ok = x.device().is_cpu();
#endif
  return x.scalar_type() == at::kFloat && device_ok && x.size(0) <= kMaxNetworkWires;
}

}  // namespace

std::vector<std::pair<int32_t, int32_t>> sorting_network(int64_t n) {
  // Batcher's odd-even merge sort (Batcher 1968) in its iterative form over merge sizes p and
  // distances k. Built for the next power of two, with every comparator whose upper wire is
  // >= n dropped: padding wires would hold +infinity, which a comparator never moves.
  std::vector<std::pair<int32_t, int32_t>> out;
  for (int64_t p = 1; p < n; p <<= 1) {
    for (int64_t k = p; k >= 1; k >>= 1) {
      for (int64_t j = k % p; j + k < n; j += 2 * k) {
        for (int64_t i = 0; i < k && i + j + k < n; ++i) {
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) {
            out.emplace_back(static_cast<int32_t>(i + j), static_cast<int32_t>(i + j + k));
          }
        }
      }
    }
  }
  return out;
}

at::Tensor sorted_range_mean_reference(const at::Tensor& x, int64_t lo, int64_t hi) {
  check_range(x, lo, hi);
  return std::get<0>(x.sort(0)).slice(0, lo, hi).mean(0);
}

at::Tensor sorted_range_mean(const at::Tensor& x, int64_t lo, int64_t hi) {
  check_range(x, lo, hi);
  const int64_t n = x.size(0);
  if (!fused_kernel_applies(x)) return sorted_range_mean_reference(x, lo, hi);
  if (hi - lo == n) return x.mean(0);  // nothing trimmed: no sort needed
  const at::Tensor xc = rows_with_unit_stride(x);
  at::Tensor out = at::empty({x.size(1)}, xc.options());
#ifdef RAMPART_WITH_CUDA
  if (xc.is_cuda()) {
    cuda::sorted_range_mean_cuda(out, xc, xc.stride(0), lo, hi);
    return out;
  }
#endif
  cpu::sorted_range_mean(xc.data_ptr<float>(), n, x.size(1), xc.stride(0), lo, hi,
                         sorting_network(n), out.data_ptr<float>());
  return out;
}

at::Tensor median_window_mean_reference(const at::Tensor& x, int64_t k) {
  check_range(x, 0, k, "median_window_mean");
  const int64_t n = x.size(0);
  // Sorted first, so that the stable sort by distance puts the smaller of two equally distant
  // values first: the same choice as the kernel's lowest window.
  const at::Tensor sorted = std::get<0>(x.sort(0));
  const at::Tensor median = sorted.slice(0, (n - 1) / 2, n / 2 + 1).mean(0);
  const at::Tensor order =
      std::get<1>((sorted - median).abs().sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  return sorted.gather(0, order.slice(0, 0, k)).mean(0);
}

at::Tensor median_window_mean(const at::Tensor& x, int64_t k) {
  check_range(x, 0, k, "median_window_mean");
  const int64_t n = x.size(0);
  if (!fused_kernel_applies(x)) return median_window_mean_reference(x, k);
  if (k == n) return x.mean(0);
  const at::Tensor xc = rows_with_unit_stride(x);
  at::Tensor out = at::empty({x.size(1)}, xc.options());
#ifdef RAMPART_WITH_CUDA
  if (xc.is_cuda()) {
    cuda::median_window_mean_cuda(out, xc, xc.stride(0), k);
    return out;
  }
#endif
  cpu::median_window_mean(xc.data_ptr<float>(), n, x.size(1), xc.stride(0), k, sorting_network(n),
                          out.data_ptr<float>());
  return out;
}

}  // namespace rampart::kernels
