// What running an untrusted model in the sandboxed worker costs: PGD-20 (no early stop) over
// 1000 Fashion-MNIST test points against a TorchScript small CNN, evaluated
//   in_process: deserialized and run in this process (eval::measure), as before the sandbox;
//   sandboxed:  the way `rampart eval` runs it (eval::measure_in_sandbox: job in sealed memory,
//               a fresh worker process that confines itself, the answer checked on return).
// Both include deserializing the model and the sanity probe. The labels are the model's own
// predictions, so every point is clean-correct and attacked (random weights cost the same).
//   build/bench/bench_sandbox --benchmark_repetitions=3 --benchmark_enable_random_interleaving
//       --benchmark_report_aggregates_only=true
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/config_node.h"
#include "core/runtime.h"
#include "datasets/dataset_spec.h"
#include "defenses/defended_model.h"
#include "eval/eval_config.h"
#include "eval/measurement.h"
#include "eval/sandboxed_eval.h"
#include "models/small_cnn.h"
#include "models/torchscript_export.h"

namespace {

using namespace rampart;

const std::string kFmnist = "/usr/share/datasets/fashion-mnist/";

struct Setup {
  eval::EvalConfig config;
  models::AdmittedModel admitted;
  datasets::Dataset data;
};

const Setup& setup() {
  static const Setup s = [] {
    Setup out;
    core::set_threads(0);
    const std::string dir = std::filesystem::temp_directory_path() / "rampart-bench-sandbox";
    std::filesystem::create_directories(dir);
    at::manual_seed(0);
    models::SmallCNN net(models::InputSpec{}, 10);
    net.eval();
    models::export_torchscript(net, dir + "/cnn.pt");
    const std::string yaml =
        "seed: 0\nthreads: 0\ndevice: cpu\n"
        "model: {path: " + dir + "/cnn.pt}\n"
        "data: {format: idx, images: " + kFmnist + "t10k-images-idx3-ubyte.gz, labels: " +
        kFmnist + "t10k-labels-idx1-ubyte.gz, limit: 1000, batch_size: 250}\n"
        "attacks: [{name: pgd, norm: linf, eps: 0.1, steps: 20, early_stop: false}]\n"
        "report: {dir: " + dir + "/report, examples: 0}\n"
        "sanity: {points: 64}\n"
        "security: {allow_unpinned: true}\n";
    out.config = eval::parse_eval_config(core::parse_config(yaml, dir + "/eval.yaml"));
    out.admitted = defenses::admit_defended_model(out.config.model);
    out.data = datasets::load_dataset(out.config.data, 10, out.config.model.input.shape);
    at::NoGradGuard no_grad;
    out.data.labels = net.forward(out.data.images).argmax(1);
    return out;
  }();
  return s;
}

void BM_Pgd20OverFmnist1000(benchmark::State& state) {
  const Setup& s = setup();
  const bool sandboxed = state.range(0) == 1;
  int64_t attacked = 0;
  for (auto _ : state) {
    eval::Measurements m;
    if (sandboxed) {
      m = eval::measure_in_sandbox(s.config, s.admitted, s.data, nullptr, {true, false});
    } else {
      const auto model = defenses::build_defended_model(s.config.model, s.admitted.files,
                                                        c10::Device(c10::kCPU));
      core::seed_everything(s.config.seed);
      m = eval::measure(s.config, *model, s.data, nullptr, /*quiet=*/true);
    }
    attacked = m.attacks.at(0).attacked;
    benchmark::DoNotOptimize(m);
  }
  state.counters["attacked"] = static_cast<double>(attacked);
  state.SetLabel(sandboxed ? "sandboxed" : "in_process");
}
BENCHMARK(BM_Pgd20OverFmnist1000)
    ->ArgName("sandboxed")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

}  // namespace
