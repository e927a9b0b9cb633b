// What a simulated Byzantine rank sends: ByzFL's label flipping (the mean of the honest
// clients' flipped-label gradients) and the flipped-label gradient itself.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/loss.h>

#include <catch2/catch.hpp>

#include "distributed/byzantine_simulation.h"
#include "models/mlp.h"

using namespace rampart;

TEST_CASE("flipped_label_gradient: the cross-entropy gradient on labels K - 1 - y, grads and mode kept",
          "[distributed][byzantine]") {
  at::manual_seed(11);
  auto net = std::make_shared<models::MLP>(models::InputSpec{{1, 4, 4}, 0.0, 1.0}, 10, 6);
  const at::Tensor x = at::rand({5, 1, 4, 4});
  const at::Tensor y = at::tensor({0, 3, 9, 4, 4}, at::kLong);
  net->train();
  // Leftover gradients, as after the worker's own backward: they must survive untouched.
  std::vector<at::Tensor> before;
  for (auto& p : net->parameters()) {
    p.mutable_grad() = at::full_like(p, 0.25);
    before.push_back(p.grad().clone());
  }
  const at::Tensor g = distributed::flipped_label_gradient(*net, x, y);
  REQUIRE(g.numel() == 16 * 6 + 6 + 6 * 10 + 10);
  CHECK(net->is_training());
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(at::equal(net->parameters()[i].grad(), before[i]));

  // Exact: the output bias's gradient is mean(softmax(logits) - onehot(9 - y)).
  const at::Tensor probs = at::softmax(net->forward(x).detach(), 1);
  const at::Tensor flipped = 9 - y;
  const at::Tensor expected_bias = (probs - at::one_hot(flipped, 10).to(at::kFloat)).mean(0);
  CHECK(at::allclose(g.slice(0, g.numel() - 10), expected_bias, 1e-6, 1e-7));
  // And the whole vector equals a plain backward on the flipped labels.
  for (auto& p : net->parameters()) p.mutable_grad() = at::Tensor();
  torch::nn::functional::cross_entropy(net->forward(x), flipped).backward();
  std::vector<at::Tensor> flat;
  for (auto& p : net->parameters()) flat.push_back(p.grad().flatten());
  CHECK(at::allclose(g, at::cat(flat), 1e-6, 1e-7));
}

TEST_CASE("byzantine_update: label_flip sends the honest rows' mean, label_flip_own its own update",
          "[distributed][byzantine]") {
  at::Generator generator = at::detail::createCPUGenerator(1);
  const at::Tensor honest = at::tensor({1.0f, 2.0f, 3.0f, 0.0f, -1.0f, 1.0f}).view({3, 2});
  const at::Tensor own = at::tensor({7.0f, 7.0f});
  distributed::ByzantineSpec byz;
  byz.count = 2;
  byz.attack = "label_flip";
  CHECK(at::equal(distributed::byzantine_update(byz, honest, own, {}, generator),
                  at::tensor({1.0f, 1.0f})));
  byz.attack = "label_flip_own";
  CHECK(at::equal(distributed::byzantine_update(byz, honest, own, {}, generator), own));
  byz.attack = "sign_flip";
  CHECK(at::equal(distributed::byzantine_update(byz, honest, own, {}, generator),
                  at::tensor({-1.0f, -1.0f})));
  CHECK(distributed::needs_honest_view("label_flip"));
  CHECK_FALSE(distributed::needs_honest_view("label_flip_own"));
  CHECK_FALSE(distributed::needs_honest_view("gaussian"));
}
