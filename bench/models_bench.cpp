// One training step of a built-in model (SGD with momentum), for reference. The attack floor
// (forward + backward with the input gradient) lives in attacks_bench.cpp, beside the attacks
// it is compared with, so that ratios come from one run.
//   build/bench/bench_models
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "core/runtime.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"

namespace {

using rampart::models::Classifier;
using rampart::models::InputSpec;

std::shared_ptr<Classifier> make(int64_t arch) {
  if (arch == 0) return std::make_shared<rampart::models::SmallCNN>(InputSpec{}, 10);
  return std::make_shared<rampart::models::PreActResNet18>(InputSpec{{3, 32, 32}, 0, 1}, 10);
}

at::Tensor input_for(const Classifier& model, int64_t batch) {
  auto shape = model.input().shape;
  shape.insert(shape.begin(), batch);
  return torch::rand(shape);
}

void BM_TrainStep(benchmark::State& state) {
  rampart::core::set_threads(0);
  auto model = make(state.range(0));
  model->train();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const at::Tensor x = input_for(*model, state.range(1));
  const at::Tensor y = torch::randint(0, 10, {state.range(1)});
  for (auto _ : state) {
    sgd.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();
    sgd.step();
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

}  // namespace

BENCHMARK(BM_TrainStep)
    ->ArgNames({"arch", "batch"})
    ->Args({0, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
