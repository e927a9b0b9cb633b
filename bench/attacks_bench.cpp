// What an attack costs against its floor. PGD-k costs k forward+backward passes (input
// gradient) plus one forward for the final verdict; everything beyond is overhead. The fused
// projected updates are compared with the equivalent ATen op sequences.
//   build/bench/bench_attacks --benchmark_repetitions=3 --benchmark_enable_random_interleaving
//       --benchmark_report_aggregates_only=true --benchmark_format=json > attacks.json
//   python3 bench/ratios.py attacks.json
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "attacks/cw.h"
#include "attacks/pgd.h"
#include "core/runtime.h"
#include "kernels/cw_step.h"
#include "kernels/l2_step.h"
#include "kernels/linf_step.h"
#include "models/model.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"

namespace {

using namespace rampart;

std::shared_ptr<models::Classifier> make(int64_t arch) {
  torch::manual_seed(0);
  if (arch == 0) return std::make_shared<models::SmallCNN>(models::InputSpec{}, 10);
  return std::make_shared<models::PreActResNet18>(models::InputSpec{{3, 32, 32}, 0, 1}, 10);
}

at::Tensor input_for(const models::Classifier& model, int64_t batch) {
  auto shape = model.input().shape;
  shape.insert(shape.begin(), batch);
  return torch::rand(shape);
}

// state.range(0): 0 = small_cnn, 1 = preact_resnet18; state.range(1): batch size.
void BM_InputGradient(benchmark::State& state) {
  core::set_threads(0);
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
  core::set_threads(0);
  auto model = make(state.range(0));
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = input_for(*model, state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(x).data_ptr());
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// PGD-20, Linf eps 8/255, no early stop (every step runs on the whole batch): state.range(0)
// arch, range(1) batch. Divide by the floor 20 * fwd+bwd + 1 * fwd (bench_models).
void BM_PGD20(benchmark::State& state) {
  core::set_threads(0);
  auto net = make(state.range(0));
  net->eval();
  models::ClassifierModel model(net);
  const at::Tensor x = input_for(*net, state.range(1));
  const at::Tensor y = torch::randint(0, 10, {state.range(1)});
  const auto options =
      attacks::PGDOptions(8.0 / 255).steps(20).step_size(2.0 / 255).early_stop(false);
  for (auto _ : state) {
    auto r = attacks::pgd(model, x, y, options);
    benchmark::DoNotOptimize(r.adversarial.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// Carlini-Wagner, 10 iterations of one binary-search step, no abort: time / 10 per iteration.
void BM_CW10(benchmark::State& state) {
  core::set_threads(0);
  auto net = make(state.range(0));
  net->eval();
  models::ClassifierModel model(net);
  const at::Tensor x = input_for(*net, state.range(1));
  const at::Tensor y = torch::randint(0, 10, {state.range(1)});
  attacks::CWOptions options;
  options.steps(10).binary_search_steps(1).abort_early(false);
  for (auto _ : state) {
    auto r = attacks::cw(model, x, y, options);
    benchmark::DoNotOptimize(r.adversarial.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// The projected update alone on [range(0), range(1)] float32: fused (range(2) = 1) or ATen.
template <bool kLinf>
void BM_Update(benchmark::State& state) {
  core::set_threads(0);
  const at::Tensor x = torch::rand({state.range(0), state.range(1)});
  const at::Tensor g = torch::randn({state.range(0), state.range(1)});
  at::Tensor x_adv = (x + 0.01 * torch::randn_like(x)).clamp(0, 1);
  const bool fused = state.range(2) == 1;
  for (auto _ : state) {
    if (fused) {
      kLinf ? kernels::linf_step_(x_adv, x, g, 0.01, 0.03, 0, 1)
            : kernels::l2_step_(x_adv, x, g, 0.1, 1.0, 0, 1);
    } else {
      x_adv = kLinf ? kernels::linf_step_reference(x_adv, x, g, 0.01, 0.03, 0, 1)
                    : kernels::l2_step_reference(x_adv, x, g, 0.1, 1.0, 0, 1);
    }
    benchmark::DoNotOptimize(x_adv.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * x.numel() * 4 * 4);  // 3 reads + 1 write
}

// One CW update (best tracking + masked Adam) on [range(0), range(1)]: fused (range(2) = 1) or
// the ATen sequence.
void BM_CWUpdate(benchmark::State& state) {
  core::set_threads(0);
  const int64_t n = state.range(0), d = state.range(1);
  kernels::CWState s{torch::randn({n, d}), torch::zeros({n, d}), torch::zeros({n, d}),
                     torch::rand({n, d}), torch::full({n}, 1e10)};
  const at::Tensor x = torch::rand({n, d}), grad = torch::randn({n, d});
  const at::Tensor x_adv = (x + 0.01 * torch::randn({n, d})).clamp(0, 1);
  const at::Tensor hit = torch::rand({n}).lt(0.5), moving = torch::rand({n}).lt(0.9);
  const bool fused = state.range(2) == 1;
  int64_t t = 0;
  for (auto _ : state) {
    ++t;
    fused ? kernels::cw_step_(s, grad, x_adv, x, hit, moving, 0.01, t)
          : kernels::cw_step_reference(s, grad, x_adv, x, hit, moving, 0.01, t);
    benchmark::DoNotOptimize(s.w.data_ptr());
  }
}

}  // namespace

BENCHMARK(BM_CWUpdate)
    ->ArgNames({"batch", "dim", "fused"})
    ->ArgsProduct({{256}, {784}, {0, 1}})
    ->ArgsProduct({{128}, {3072}, {0, 1}})
    ->ArgsProduct({{64}, {150528}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
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
BENCHMARK(BM_PGD20)
    ->ArgNames({"arch", "batch"})
    ->Args({0, 256})
    ->Args({1, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CW10)
    ->ArgNames({"arch", "batch"})
    ->Args({0, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Update, true)
    ->Name("BM_LinfUpdate")
    ->ArgNames({"batch", "dim", "fused"})
    ->ArgsProduct({{256}, {784}, {0, 1}})
    ->ArgsProduct({{128}, {3072}, {0, 1}})
    ->ArgsProduct({{64}, {150528}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Update, false)
    ->Name("BM_L2Update")
    ->ArgNames({"batch", "dim", "fused"})
    ->ArgsProduct({{256}, {784}, {0, 1}})
    ->ArgsProduct({{128}, {3072}, {0, 1}})
    ->ArgsProduct({{64}, {150528}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_MAIN();
