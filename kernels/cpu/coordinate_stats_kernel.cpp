#include "kernels/cpu/coordinate_stats_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>

namespace rampart::kernels::cpu {
namespace {

// Coordinates per block: the compare-exchange loops below run over kBlock lanes, which the
// compiler turns into vector min/max instructions.
constexpr int64_t kBlock = 32;

}  // namespace

void sorted_range_mean(const float* x, int64_t n, int64_t d, int64_t row_stride, int64_t lo,
                       int64_t hi, const std::vector<std::pair<int32_t, int32_t>>& network,
                       float* out) {
  const int64_t blocks = (d + kBlock - 1) / kBlock;
  const float scale = 1.0F / static_cast<float>(hi - lo);
  at::parallel_for(0, blocks, 64, [&](int64_t begin, int64_t end) {
    std::vector<float> lanes(static_cast<size_t>(n * kBlock));
    float* v = lanes.data();
    for (int64_t b = begin; b < end; ++b) {
      const int64_t j0 = b * kBlock;
      const int64_t width = std::min(kBlock, d - j0);
      for (int64_t i = 0; i < n; ++i) {
        const float* row = x + i * row_stride + j0;
        float* lane = v + i * kBlock;
        for (int64_t w = 0; w < width; ++w) lane[w] = row[w];
        for (int64_t w = width; w < kBlock; ++w) lane[w] = 0.0F;
      }
      for (const auto& [a, c] : network) {
        float* __restrict__ p = v + a * kBlock;
        float* __restrict__ q = v + c * kBlock;
        for (int64_t w = 0; w < kBlock; ++w) {
          const float small = std::min(p[w], q[w]);
          const float large = std::max(p[w], q[w]);
          p[w] = small;
          q[w] = large;
        }
      }
      float sum[kBlock] = {};
      for (int64_t r = lo; r < hi; ++r) {
        const float* lane = v + r * kBlock;
        for (int64_t w = 0; w < kBlock; ++w) sum[w] += lane[w];
      }
      for (int64_t w = 0; w < width; ++w) out[j0 + w] = sum[w] * scale;
    }
  });
}

}  // namespace rampart::kernels::cpu
