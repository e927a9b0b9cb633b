#include "kernels/cpu/coordinate_stats_kernel.h"

#include <algorithm>

#include "core/parallel_for.h"

namespace rampart::kernels::cpu {
namespace {

// Coordinates per block: the compare-exchange loops below run over kBlock lanes, which the
// compiler turns into vector min/max instructions.
constexpr int64_t kBlock = 32;

// Sorts x's columns block by block with `network` and hands each block's sorted lanes to
// reduce(v, width, out + j0): v holds n rows of kBlock lanes, row r being the rank-r values of
// the block's coordinates (lanes >= width are padding).
template <typename Reduce>
void for_each_sorted_block(const float* x, int64_t n, int64_t d, int64_t row_stride,
                           const std::vector<std::pair<int32_t, int32_t>>& network, float* out,
                           const Reduce& reduce) {
  const int64_t blocks = (d + kBlock - 1) / kBlock;
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
      reduce(v, width, out + j0);
    }
  });
}

}  // namespace

void sorted_range_mean(const float* x, int64_t n, int64_t d, int64_t row_stride, int64_t lo,
                       int64_t hi, const std::vector<std::pair<int32_t, int32_t>>& network,
                       float* out) {
  const float scale = 1.0F / static_cast<float>(hi - lo);
  for_each_sorted_block(x, n, d, row_stride, network, out,
                        [&](const float* v, int64_t width, float* o) {
    float sum[kBlock] = {};
    for (int64_t r = lo; r < hi; ++r) {
      const float* lane = v + r * kBlock;
      for (int64_t w = 0; w < kBlock; ++w) sum[w] += lane[w];
    }
    for (int64_t w = 0; w < width; ++w) o[w] = sum[w] * scale;
  });
}

void median_window_mean(const float* x, int64_t n, int64_t d, int64_t row_stride, int64_t k,
                        const std::vector<std::pair<int32_t, int32_t>>& network, float* out) {
  const float scale = 1.0F / static_cast<float>(k);
  for_each_sorted_block(x, n, d, row_stride, network, out,
                        [&](const float* v, int64_t width, float* o) {
    // The k values closest to the median are k consecutive ranks [start, start + k). Sliding
    // the window up by one swaps rank i for rank i + k, which pays when rank i + k is strictly
    // closer: s[i + k] - m < m - s[i]. That test is monotone in i (true, then false), so the
    // best start is the number of i for which it holds; a tie keeps the smaller value.
    const float* low_mid = v + ((n - 1) / 2) * kBlock;
    const float* high_mid = v + (n / 2) * kBlock;
    float median[kBlock];
    int32_t start[kBlock];
    for (int64_t w = 0; w < kBlock; ++w) {
      median[w] = 0.5F * (low_mid[w] + high_mid[w]);
      start[w] = 0;
    }
    for (int64_t i = 0; i + k < n; ++i) {
      const float* leaving = v + i * kBlock;
      const float* entering = v + (i + k) * kBlock;
      for (int64_t w = 0; w < kBlock; ++w) {
        start[w] += static_cast<int32_t>(entering[w] - median[w] < median[w] - leaving[w]);
      }
    }
    for (int64_t w = 0; w < width; ++w) {
      float sum = 0.0F;
      for (int64_t r = start[w]; r < start[w] + k; ++r) sum += v[r * kBlock + w];
      o[w] = sum * scale;
    }
  });
}

}  // namespace rampart::kernels::cpu
