// What an attack costs against its floor. PGD-k costs k forward+backward passes (input
// gradient) plus one forward for the final verdict; everything beyond is overhead. The fused
// projected updates are compared with the equivalent ATen op sequences.
//   build/bench/bench_attacks --benchmark_repetitions=3 --benchmark_enable_random_interleaving
//       --benchmark_report_aggregates_only=true --benchmark_format=json > attacks.json
//   python3 bench/ratios.py attacks.json
// RAMPART_BENCH_DEVICE=cuda runs everything on the GPU (a CUDA build), with a device sync
// closing each iteration; PGD-20 then runs with CUDA graphs off and on, and PreAct-ResNet-18
// takes batch 512.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "attacks/apgd.h"
#include "attacks/cw.h"
#include "attacks/pgd.h"
#include "core/runtime.h"
#include "kernels/apgd_step.h"
#include "kernels/cw_step.h"
#include "kernels/l2_step.h"
#include "kernels/linf_step.h"
#include "kernels/random_start.h"
#include "models/model.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"

namespace {

using namespace rampart;

bool on_cuda() {
  static const bool cuda = [] {
    const char* device = std::getenv("RAMPART_BENCH_DEVICE");
    return device != nullptr && std::string(device) == "cuda";
  }();
  return cuda;
}

at::Device device() { return on_cuda() ? at::Device(at::kCUDA) : at::Device(at::kCPU); }

// Waits for the device's queued work, so an iteration's time includes its kernels.
void finish() {
  if (on_cuda()) torch::cuda::synchronize();
}

std::shared_ptr<models::Classifier> make(int64_t arch) {
  torch::manual_seed(0);
  std::shared_ptr<models::Classifier> model;
  if (arch == 0) {
    model = std::make_shared<models::SmallCNN>(models::InputSpec{}, 10);
  } else {
    model = std::make_shared<models::PreActResNet18>(models::InputSpec{{3, 32, 32}, 0, 1}, 10);
  }
  model->to(device());
  return model;
}

at::Tensor input_for(const models::Classifier& model, int64_t batch) {
  auto shape = model.input().shape;
  shape.insert(shape.begin(), batch);
  return torch::rand(shape).to(device());
}

at::Tensor labels_for(int64_t batch) { return torch::randint(0, 10, {batch}).to(device()); }

// The models' arguments: {arch, batch}; PreAct-ResNet-18 at batch 512 on the GPU.
void model_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"arch", "batch"})->Args({0, 256})->Args({1, on_cuda() ? 512 : 128});
}

// PGD's arguments: {arch, batch, graphs}; CUDA graphs off and on where they apply.
void pgd_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"arch", "batch", "graphs"});
  for (int64_t graphs : on_cuda() ? std::vector<int64_t>{0, 1} : std::vector<int64_t>{1}) {
    b->Args({0, 256, graphs})->Args({1, on_cuda() ? 512 : 128, graphs});
  }
}

// state.range(0): 0 = small_cnn, 1 = preact_resnet18; state.range(1): batch size.
void BM_InputGradient(benchmark::State& state) {
  core::set_threads(0);
  auto model = make(state.range(0));
  model->eval();
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  const at::Tensor x0 = input_for(*model, state.range(1));
  const at::Tensor y = labels_for(state.range(1));
  for (auto _ : state) {
    at::Tensor x = x0.detach().requires_grad_(true);
    at::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    at::Tensor g = torch::autograd::grad({loss}, {x})[0];
    benchmark::DoNotOptimize(g.data_ptr());
    finish();
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

void BM_Forward(benchmark::State& state) {
  core::set_threads(0);
  auto model = make(state.range(0));
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = input_for(*model, state.range(1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(model->forward(x).data_ptr());
    finish();
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// PGD-20, Linf eps 8/255, no early stop (every step runs on the whole batch): state.range(0)
// arch, range(1) batch, range(2) CUDA graphs. Divide by the floor 20 * fwd+bwd + 1 * fwd.
void BM_PGD20(benchmark::State& state) {
  core::set_threads(0);
  auto net = make(state.range(0));
  net->eval();
  models::ClassifierModel model(net);
  const at::Tensor x = input_for(*net, state.range(1));
  const at::Tensor y = labels_for(state.range(1));
  const auto options =
      attacks::PGDOptions(8.0 / 255).steps(20).step_size(2.0 / 255).early_stop(false).cuda_graphs(
          state.range(2) == 1);
  for (auto _ : state) {
    auto r = attacks::pgd(model, x, y, options);
    benchmark::DoNotOptimize(r.adversarial.data_ptr());
    finish();
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// APGD-CE, 100 iterations, Linf. The labels are the model's own predictions and eps is tiny, so
// no point is fooled and every iteration runs on the whole batch. Divide by the floor
// 101 * fwd+bwd (the start's gradient and one per iteration).
void BM_APGD100(benchmark::State& state) {
  core::set_threads(0);
  auto net = make(state.range(0));
  net->eval();
  models::ClassifierModel model(net);
  const at::Tensor x = input_for(*net, state.range(1));
  at::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = net->forward(x).argmax(1);
  }
  const auto options = attacks::APGDOptions(1e-6).steps(100);
  for (auto _ : state) {
    auto r = attacks::apgd(model, x, y, options);
    benchmark::DoNotOptimize(r.adversarial.data_ptr());
    finish();
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// The APGD momentum step alone on [range(0), range(1)] float32, Linf: fused (range(2) = 1) or
// the ATen reference.
void BM_APGDUpdate(benchmark::State& state) {
  core::set_threads(0);
  const at::Tensor x = torch::rand({state.range(0), state.range(1)}).to(device());
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor eta = torch::full({state.range(0)}, 0.01).to(device());
  at::Tensor x_adv = x.clone(), x_prev = x.clone();
  for (auto _ : state) {
    if (state.range(2) == 1) {
      kernels::apgd_step_(x_adv, x_prev, x, g, eta, 0.75, 0.03, 0.0, 1.0, false);
    } else {
      kernels::apgd_step_reference(x_adv, x_prev, x, g, eta, 0.75, 0.03, 0.0, 1.0, false);
    }
    benchmark::DoNotOptimize(x_adv.data_ptr());
    finish();
  }
}

// Carlini-Wagner, 10 iterations of one binary-search step, no abort: time / 10 per iteration.
void BM_CW10(benchmark::State& state) {
  core::set_threads(0);
  auto net = make(state.range(0));
  net->eval();
  models::ClassifierModel model(net);
  const at::Tensor x = input_for(*net, state.range(1));
  const at::Tensor y = labels_for(state.range(1));
  attacks::CWOptions options;
  options.steps(10).binary_search_steps(1).abort_early(false);
  for (auto _ : state) {
    auto r = attacks::cw(model, x, y, options);
    benchmark::DoNotOptimize(r.adversarial.data_ptr());
    finish();
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// The projected update alone on [range(0), range(1)] float32: fused (range(2) = 1) or ATen.
template <bool kLinf>
void BM_Update(benchmark::State& state) {
  core::set_threads(0);
  const at::Tensor x = torch::rand({state.range(0), state.range(1)}).to(device());
  const at::Tensor g = torch::randn({state.range(0), state.range(1)}).to(device());
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
    finish();
  }
  state.SetBytesProcessed(state.iterations() * x.numel() * 4 * 4);  // 3 reads + 1 write
}

// One CW update (best tracking + masked Adam) on [range(0), range(1)]: fused (range(2) = 1) or
// the ATen sequence.
void BM_CWUpdate(benchmark::State& state) {
  core::set_threads(0);
  const int64_t n = state.range(0), d = state.range(1);
  const auto on = torch::TensorOptions().device(device());
  kernels::CWState s{torch::randn({n, d}, on), torch::zeros({n, d}, on), torch::zeros({n, d}, on),
                     torch::rand({n, d}, on), torch::full({n}, 1e10, on)};
  const at::Tensor x = torch::rand({n, d}, on), grad = torch::randn({n, d}, on);
  const at::Tensor x_adv = (x + 0.01 * torch::randn({n, d}, on)).clamp(0, 1);
  const at::Tensor hit = torch::rand({n}, on).lt(0.5), moving = torch::rand({n}, on).lt(0.9);
  const bool fused = state.range(2) == 1;
  int64_t t = 0;
  for (auto _ : state) {
    ++t;
    fused ? kernels::cw_step_(s, grad, x_adv, x, hit, moving, 0.01, t)
          : kernels::cw_step_reference(s, grad, x_adv, x, hit, moving, 0.01, t);
    benchmark::DoNotOptimize(s.w.data_ptr());
    finish();
  }
}

// A random start on [range(0), range(1)] in the Linf cube (range(3) = 0) or the L2 ball (1):
// fused (range(2) = 1: drawn in the kernel) or ATen (noise drawn on the CPU, as a seeded
// device-independent start needs without the kernel, then moved, scaled and clipped).
void BM_RandomStart(benchmark::State& state) {
  core::set_threads(0);
  const int64_t n = state.range(0), d = state.range(1);
  const at::Tensor x = torch::rand({n, d}).to(device());
  at::Tensor out = torch::empty_like(x);
  const bool fused = state.range(2) == 1, linf = state.range(3) == 0;
  at::Generator gen = at::detail::createCPUGenerator(1);
  uint64_t seed = 0;
  for (auto _ : state) {
    if (fused) {
      linf ? kernels::linf_random_start(out, x, 0.03, 0, 1, ++seed)
           : kernels::l2_random_start(out, x, 1.0, 0, 1, ++seed);
    } else if (linf) {
      const at::Tensor delta = at::empty({n, d}).uniform_(-0.03, 0.03, gen).to(device());
      out = (x + delta).clamp(0, 1);
    } else {
      const at::Tensor z = at::empty({n, d}).normal_(0.0, 1.0, gen);
      const at::Tensor radius = at::empty({n, 1}).uniform_(0.0, 1.0, gen).pow(1.0 / d);
      const at::Tensor delta = z * (radius / z.norm(2, 1, true).clamp_min(1e-12));
      out = (x + delta.to(device())).clamp(0, 1);
    }
    benchmark::DoNotOptimize(out.data_ptr());
    finish();
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
BENCHMARK(BM_InputGradient)->Apply(model_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Forward)->Apply(model_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PGD20)->Apply(pgd_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RandomStart)
    ->ArgNames({"batch", "dim", "fused", "ball"})
    ->ArgsProduct({{256}, {784}, {0, 1}, {0, 1}})
    ->ArgsProduct({{64}, {150528}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_APGD100)->Apply(model_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_APGDUpdate)
    ->ArgNames({"batch", "dim", "fused"})
    ->ArgsProduct({{256}, {784}, {0, 1}})
    ->ArgsProduct({{64}, {150528}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
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
