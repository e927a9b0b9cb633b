// The cost floor every attack is measured against: one forward + backward pass of a built-in
// model on a batch, with the input gradient (what an attack step needs) and without parameter
// gradients. Also plain inference and one training step for reference.
//   build/bench/bench_models --benchmark_counters_tabular=true
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

// state.range(0): 0 = small_cnn, 1 = preact_resnet18; state.range(1): batch size.
void BM_InputGradient(benchmark::State& state) {
  rampart::core::set_threads(0);
  auto model = make(state.range(0));
  model->eval();
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  const at::Tensor x0 = input_for(*model, state.range(1));
  const at::Tensor y = torch::randint(0, 10, {state.range(1)});
  for (auto _ : state) {
    at::Tensor x = x0.detach().requires_grad_(true);
    at::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    at::Tensor g = torch::autograd::grad({loss}, {x})[0];
    benchmark::DoNotOptimize(g.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

void BM_Forward(benchmark::State& state) {
  rampart::core::set_threads(0);
  auto model = make(state.range(0));
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = input_for(*model, state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(x).data_ptr());
  state.SetItemsProcessed(state.iterations() * state.range(1));
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

BENCHMARK(BM_InputGradient)
    ->ArgNames({"arch", "batch"})
    ->Args({0, 256})
    ->Args({1, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Forward)
    ->ArgNames({"arch", "batch"})
    ->Args({0, 256})
    ->Args({1, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TrainStep)
    ->ArgNames({"arch", "batch"})
    ->Args({0, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_MAIN();
