// Peak memory of the attack loop against one forward+backward, on CPU: the process's resident
// high-water mark (VmHWM) above its level before the measured work, for one mode per process
// (so that one mode's peak cannot hide the other's).
//   build/bench/bench_peak_memory small_cnn 256 fwd_bwd
//   build/bench/bench_peak_memory small_cnn 256 pgd20
// Prints: "<mode> <arch> b<batch>: peak +<MiB> MiB".
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "attacks/pgd.h"
#include "core/runtime.h"
#include "models/model.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"

namespace {

using namespace rampart;

// A field of /proc/self/status in KiB ("VmHWM", "VmRSS").
int64_t status_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

// Resets the high-water mark to the current RSS (Linux >= 4.0).
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s small_cnn|preact_resnet18 BATCH fwd_bwd|pgd20\n", argv[0]);
    return 2;
  }
  const std::string arch = argv[1], mode = argv[3];
  const int64_t batch = std::stoll(argv[2]);
  core::set_threads(0);
  torch::manual_seed(0);
  std::shared_ptr<models::Classifier> net;
  if (arch == "small_cnn") {
    net = std::make_shared<models::SmallCNN>(models::InputSpec{}, 10);
  } else {
    net = std::make_shared<models::PreActResNet18>(models::InputSpec{{3, 32, 32}, 0, 1}, 10);
  }
  net->eval();
  models::ClassifierModel model(net);
  auto shape = net->input().shape;
  shape.insert(shape.begin(), batch);
  const at::Tensor x = torch::rand(shape);
  const at::Tensor y = torch::randint(0, 10, {batch});
  models::AttackModeGuard guard(model);
  {  // warm-up outside the measurement: allocator pools, oneDNN primitives
    at::Tensor leaf = x.detach().requires_grad_(true);
    torch::autograd::grad({torch::nn::functional::cross_entropy(model.forward(leaf), y)}, {leaf});
  }
  reset_peak();
  const int64_t before = status_kib("VmRSS");
  if (mode == "fwd_bwd") {
    at::Tensor leaf = x.detach().requires_grad_(true);
    auto g = torch::autograd::grad({torch::nn::functional::cross_entropy(model.forward(leaf), y)},
                                   {leaf});
  } else {
    attacks::pgd(model, x, y,
                 attacks::PGDOptions(8.0 / 255).steps(20).step_size(2.0 / 255).early_stop(false));
  }
  const int64_t peak = status_kib("VmHWM");
  std::printf("%s %s b%lld: peak +%.1f MiB\n", mode.c_str(), arch.c_str(),
              static_cast<long long>(batch), static_cast<double>(peak - before) / 1024.0);
  return 0;
}
