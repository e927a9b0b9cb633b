#pragma once

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/classifier.h"

namespace rampart::models {

/// A small CNN for 1x28x28 inputs (MNIST, Fashion-MNIST): two 3x3 conv layers (32, 64
/// channels) each followed by ReLU and 2x2 max pooling, then a 128-unit hidden layer and the
/// logits. The usual small model of the robustness literature at MNIST scale. Any C x H x W
/// input with H and W divisible by 4 works.
///
/// Example:
///   auto net = std::make_shared<models::SmallCNN>(InputSpec{}, 10);
///   at::Tensor logits = net->forward(torch::rand({8, 1, 28, 28}));
class SmallCNN : public Classifier {
 public:
  SmallCNN(InputSpec input, int64_t num_classes);
  /// Why `input` does not fit this architecture, or "" when it does.
  static std::string input_problem(const InputSpec& input);
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor features(const at::Tensor& x) override;  ///< fc1's ReLU output, [N, 128]
  std::string arch() const override { return "small_cnn"; }
  torch::jit::Module to_torchscript() const override;

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};

}  // namespace rampart::models
