// Robust aggregation over n = 12 workers of d = 1.2M coordinates (a small CNN's gradient), on
// one thread: the fused sorting-network kernel for the coordinate median and the trimmed mean
// against libtorch's sort-based definition, and the distance-based rules for scale.
//   build/bench/bench_aggregation --benchmark_repetitions=3 --benchmark_enable_random_interleaving
//       --benchmark_report_aggregates_only=true
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "defenses/aggregation/pre_aggregators.h"
#include "defenses/aggregation/robust_rules.h"
#include "kernels/coordinate_stats.h"

namespace {

using namespace rampart;
namespace agg = rampart::defenses::aggregation;

constexpr int64_t kWorkers = 12;
constexpr int64_t kCoordinates = 1200000;
constexpr int64_t kTrim = 2;

const at::Tensor& updates() {
  static const at::Tensor x = [] {
    at::set_num_threads(1);
    at::manual_seed(0);
    return at::randn({kWorkers, kCoordinates});
  }();
  return x;
}

void BM_MedianFused(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::coordinate_median(x));
}
void BM_MedianSortReference(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) {
    benchmark::DoNotOptimize(kernels::sorted_range_mean_reference(x, (kWorkers - 1) / 2, kWorkers / 2 + 1));
  }
}
void BM_TrimmedMeanFused(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::trimmed_mean(x, kTrim));
}
void BM_TrimmedMeanSortReference(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) {
    benchmark::DoNotOptimize(kernels::sorted_range_mean_reference(x, kTrim, kWorkers - kTrim));
  }
}
void BM_MeamedFused(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::meamed(x, kTrim));
}
void BM_MeamedSortReference(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) {
    benchmark::DoNotOptimize(kernels::median_window_mean_reference(x, kWorkers - kTrim));
  }
}
void BM_MinimumDiameterAverage(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::minimum_diameter_average(x, kTrim));
}
void BM_CovarianceFilter(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::covariance_filter(x, kTrim));
}
void BM_Mean(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::mean(x));
}
void BM_Krum(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::krum(x, kTrim));
}
void BM_MultiKrum(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::multi_krum(x, kTrim));
}
void BM_GeometricMedian(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) benchmark::DoNotOptimize(agg::geometric_median(x));
}
void BM_NnmThenTrimmedMean(benchmark::State& state) {
  const at::Tensor& x = updates();
  for (auto _ : state) {
    benchmark::DoNotOptimize(agg::trimmed_mean(agg::nearest_neighbour_mixing(x, kTrim), kTrim));
  }
}

}  // namespace

BENCHMARK(BM_MedianFused)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MedianSortReference)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrimmedMeanFused)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrimmedMeanSortReference)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MeamedFused)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MeamedSortReference)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MinimumDiameterAverage)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CovarianceFilter)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Mean)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Krum)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MultiKrum)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GeometricMedian)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NnmThenTrimmedMean)->Unit(benchmark::kMillisecond);
