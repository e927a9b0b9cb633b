#pragma once

#include <torch/nn/modules/linear.h>

#include "models/classifier.h"

namespace rampart::models {

/// A one-hidden-layer perceptron: the flattened C x H x W input, a `hidden`-unit ReLU layer,
/// then the logits. The model of the Byzantine-robustness simulations (ByzFL's benchmark and
/// docs/distributed.md's attack x rule table use 784-32-10 on Fashion-MNIST): small enough that
/// a round of twelve workers costs milliseconds, so rules and attacks can be compared over
/// hundreds of rounds and several seeds on a CPU.
///
/// Example:
///   auto net = std::make_shared<models::MLP>(InputSpec{}, 10, 32);  // 25,450 parameters
///   at::Tensor logits = net->forward(torch::rand({8, 1, 28, 28}));
class MLP : public Classifier {
 public:
  MLP(InputSpec input, int64_t num_classes, int64_t hidden);
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor features(const at::Tensor& x) override;  ///< the hidden ReLU output, [N, hidden]
  std::string arch() const override { return "mlp"; }
  torch::jit::Module to_torchscript() const override;

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};

}  // namespace rampart::models
