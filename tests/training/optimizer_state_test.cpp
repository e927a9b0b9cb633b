#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "models/small_cnn.h"
#include "training/optimizer.h"

using namespace rampart;

namespace {

void step(torch::optim::Optimizer& opt, models::SmallCNN& net, const at::Tensor& x,
          const at::Tensor& y) {
  opt.zero_grad();
  torch::nn::functional::cross_entropy(net.forward(x), y).backward();
  opt.step();
}

// Two copies of a model and optimizer; the second gets the first's state through the checkpoint
// tensors; both then take the same step and must stay bit-identical.
void check_state_round_trip(const training::OptimizerSpec& spec) {
  torch::manual_seed(5);
  const at::Tensor x = torch::rand({8, 1, 16, 16});
  const at::Tensor y = torch::randint(0, 10, {8});
  models::SmallCNN a(models::InputSpec{{1, 16, 16}, 0, 1}, 10);
  auto opt_a = training::make_optimizer(spec, a);
  for (int i = 0; i < 3; ++i) step(*opt_a, a, x, y);
  const auto tensors = training::optimizer_state(*opt_a, a);
  REQUIRE(!tensors.empty());

  models::SmallCNN b(models::InputSpec{{1, 16, 16}, 0, 1}, 10);
  {
    torch::NoGradGuard no_grad;
    auto pa = a.parameters();
    auto pb = b.parameters();
    for (std::size_t i = 0; i < pa.size(); ++i) pb[i].copy_(pa[i]);
  }
  auto opt_b = training::make_optimizer(spec, b);
  models::SafetensorsFile file;
  for (const auto& t : tensors) file.tensors.emplace_back(t.first, t.second.clone());
  training::load_optimizer_state(*opt_b, b, file, "state");
  step(*opt_a, a, x, y);
  step(*opt_b, b, x, y);
  auto pa = a.parameters();
  auto pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) REQUIRE(torch::equal(pa[i], pb[i]));

  // Without the restored state the step differs (so the check above can fail).
  models::SmallCNN c(models::InputSpec{{1, 16, 16}, 0, 1}, 10);
  auto opt_c = training::make_optimizer(spec, c);
  {
    torch::NoGradGuard no_grad;
    auto pc = c.parameters();
    auto p_before = b.parameters();
    for (std::size_t i = 0; i < pc.size(); ++i) pc[i].copy_(p_before[i]);
  }
  step(*opt_c, c, x, y);
  step(*opt_b, b, x, y);
  CHECK_FALSE(torch::equal(c.parameters()[0], b.parameters()[0]));
}

}  // namespace

TEST_CASE("SGD momentum state survives a checkpoint exactly", "[training]") {
  training::OptimizerSpec sgd;
  sgd.nesterov = true;
  check_state_round_trip(sgd);
}

TEST_CASE("Adam moments and step counts survive a checkpoint exactly", "[training]") {
  training::OptimizerSpec adam;
  adam.name = "adam";
  adam.lr = 1e-3;
  adam.weight_decay = 0;
  check_state_round_trip(adam);
}
