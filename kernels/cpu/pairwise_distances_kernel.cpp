#include "kernels/cpu/pairwise_distances_kernel.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "core/parallel_for.h"

namespace rampart::kernels::cpu {
namespace {

// Coordinates summed in float32 before the float64 accumulation: short enough that the float
// sum of squares keeps ~1e-6 relative error, long enough for the inner loop to vectorize.
constexpr int64_t kBlock = 256;

}  // namespace

void pairwise_sq_distances(const float* x, int64_t n, int64_t d, double* out) {
  std::fill(out, out + n * n, 0.0);
  // Each chunk's partial sums are kept under its first block and added in block order after
  // the loop, so the float64 sums do not depend on which thread finished first.
  std::map<int64_t, std::vector<double>> partials;
  std::mutex merge;
  const int64_t blocks = (d + kBlock - 1) / kBlock;
  at::parallel_for(0, blocks, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> local(static_cast<size_t>(n * n), 0.0);
    for (int64_t b = begin; b < end; ++b) {
      const int64_t k0 = b * kBlock;
      const int64_t width = std::min(kBlock, d - k0);
      for (int64_t i = 0; i < n; ++i) {
        const float* __restrict__ xi = x + i * d + k0;
        for (int64_t j = i + 1; j < n; ++j) {
          const float* __restrict__ xj = x + j * d + k0;
          float sum = 0.0F;
          for (int64_t k = 0; k < width; ++k) {
            const float diff = xi[k] - xj[k];
            sum += diff * diff;
          }
          local[static_cast<size_t>(i * n + j)] += sum;
        }
      }
    }
    std::lock_guard<std::mutex> lock(merge);
    partials.emplace(begin, std::move(local));
  });
  for (const auto& [first_block, local] : partials) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = i + 1; j < n; ++j) out[i * n + j] += local[static_cast<size_t>(i * n + j)];
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) out[j * n + i] = out[i * n + j];
  }
}

}  // namespace rampart::kernels::cpu
