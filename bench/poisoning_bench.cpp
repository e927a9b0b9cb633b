// Poisoning detection at Fashion-MNIST scale: 60,000 points of 128-dim features (the small CNN's
// penultimate layer) and 28x28 images, 10 classes, a planted backdoor cluster of 3,000 points
// (5%) in one class, on 2 threads; feature extraction is not timed (the budget: <= 5 s).
//   build/bench/bench_poisoning --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "datasets/npy.h"
#include "defenses/poisoning/data_audit.h"
#include "defenses/poisoning/feature_geometry.h"
#include "defenses/poisoning/nearest_neighbours.h"
#include "defenses/poisoning/source_diversity.h"

namespace {

using namespace rampart::defenses::poisoning;

struct Data {
  at::Tensor features, images, labels;
};

const Data& data() {
  static const Data d = [] {
    at::set_num_threads(2);
    at::manual_seed(0);
    constexpr int64_t kPoints = 60000, kClasses = 10;
    Data out;
    out.labels = at::arange(kClasses, at::kLong).repeat_interleave(kPoints / kClasses);
    out.features = (at::randn({kClasses, 128}) * 4).index_select(0, out.labels) + at::randn({kPoints, 128});
    out.images = (at::rand({kClasses, 1, 28, 28}).index_select(0, out.labels) +
                  0.2 * at::randn({kPoints, 1, 28, 28})).clamp(0, 1);
    const at::Tensor poisoned = at::randperm(kPoints).slice(0, 0, 3000);
    out.features.index_put_({poisoned}, out.features.index_select(0, poisoned) * 0.2 + 10.0);
    out.labels.index_fill_(0, poisoned, 4);
    return out;
  }();
  return d;
}

void run(benchmark::State& state, const std::vector<std::string>& detectors, int64_t starts = 3) {
  const Data& d = data();
  AuditSpec spec;
  spec.detectors = detectors;
  spec.spectral_starts = starts;
  for (auto _ : state) benchmark::DoNotOptimize(audit_features(d.features, d.labels, 10, spec));
}

// Arg: spectral_starts (1: the top singular direction only; 3: the default).
void BM_Spectral(benchmark::State& state) { run(state, {"spectral"}, state.range(0)); }
// As `rampart audit-data` runs it: the images pooled to the neighbour space, and the poisoned
// class's flagged side chosen by the source diversity of its points.
// Arg 0: peeling and polishing off (robust.peels 0, polish_rounds 0), to read their cost off.
void BM_SpectralWithInputs(benchmark::State& state) {
  const Data& d = data();
  AuditSpec spec;
  if (state.range(0) == 0) spec.robust_peels = 0, spec.polish_rounds = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        audit_features(d.features, d.labels, 10, spec, at::Tensor(), neighbour_space(d.images)));
  }
}
// The spectral audit of a saved run of tools/poisoning_run.sh, as `rampart audit-data` ran it
// (its default spec, the images given): RAMPART_BENCH_AUDIT_RUN=RUN_DIR reads
// RUN_DIR/audit/features.npy and RUN_DIR/train_poisoned/{images,labels}.npy. The synthetic set
// above peels nothing; the 1% corner run of seed 7 (docs/poisoning.md) peels three times.
void BM_SpectralSavedRun(benchmark::State& state) {
  const char* dir = std::getenv("RAMPART_BENCH_AUDIT_RUN");
  if (dir == nullptr) {
    state.SkipWithError("RAMPART_BENCH_AUDIT_RUN is not set (a run folder with saved features)");
    return;
  }
  const std::string run = dir;
  const at::Tensor features = rampart::datasets::read_npy(run + "/audit/features.npy");
  const at::Tensor images = rampart::datasets::read_npy(run + "/train_poisoned/images.npy");
  const at::Tensor labels = rampart::datasets::read_npy(run + "/train_poisoned/labels.npy").to(at::kLong);
  at::set_num_threads(2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        audit_features(features, labels, 10, AuditSpec{}, at::Tensor(), neighbour_space(images)));
  }
}
void BM_ActivationClustering(benchmark::State& state) { run(state, {"activation_clustering"}); }
void BM_KnnLabels(benchmark::State& state) { run(state, {"knn_labels"}); }

// The k-NN detector's search alone, every point's 20 nearest others in 32 dimensions; counters:
// the cells and the share of the N x N distances computed. RAMPART_BENCH_FEATURES=features.npy
// (an audit's saved features, [N, D] float32) searches those instead, in their top 32 principal
// axes as the detector does.
void BM_NearestNeighbours(benchmark::State& state) {
  at::Tensor reduced = data().features.slice(1, 0, 32).contiguous();
  if (const char* path = std::getenv("RAMPART_BENCH_FEATURES")) {
    const at::Tensor features = rampart::datasets::read_npy(path);
    reduced = fit_pca(features, 32, 20000).project(features).to(at::kFloat).contiguous();
  }
  NeighbourSearchStats stats;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        nearest_neighbours(reduced, at::arange(reduced.size(0), at::kLong), reduced, 20, &stats));
  }
  state.counters["cells"] = static_cast<double>(stats.cells);
  const double n = static_cast<double>(reduced.size(0));
  state.counters["distance_share"] = static_cast<double>(stats.distances) / (n * n);
}

BENCHMARK(BM_Spectral)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_SpectralWithInputs)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_SpectralSavedRun)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ActivationClustering)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_KnnLabels)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_NearestNeighbours)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
