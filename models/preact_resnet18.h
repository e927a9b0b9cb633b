#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/classifier.h"

namespace rampart::models {

/// One pre-activation residual block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the shortcut
/// (a 1x1 strided conv when the shape changes), as in He et al. 2016, "Identity Mappings in
/// Deep Residual Networks".
class PreActBlockImpl : public torch::nn::Module {
 public:
  PreActBlockImpl(int64_t in_planes, int64_t planes, int64_t stride);
  at::Tensor forward(const at::Tensor& x);
  bool has_shortcut() const { return !shortcut_.is_empty(); }

 private:
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(PreActBlock);

/// PreAct-ResNet-18 for 3x32x32 inputs (CIFAR-10 scale), the standard architecture of
/// adversarial-training papers (Wong et al. 2020, Rice et al. 2020): a 3x3 stem, four stages
/// of two PreActBlocks (64, 128, 256, 512 channels; strides 1, 2, 2, 2), BN-ReLU, global
/// average pooling and a linear layer. Parameter names follow the common Python version
/// (`layer1.0.conv1.weight`, ...).
///
/// Example:
///   models::PreActResNet18 net(InputSpec{{3, 32, 32}, 0, 1}, 10);
class PreActResNet18 : public Classifier {
 public:
  PreActResNet18(InputSpec input, int64_t num_classes);
  /// Why `input` does not fit this architecture, or "" when it does.
  static std::string input_problem(const InputSpec& input);
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor features(const at::Tensor& x) override;  ///< the pooled last stage, [N, 512]
  std::string arch() const override { return "preact_resnet18"; }
  torch::jit::Module to_torchscript() const override;

 private:
  torch::nn::Conv2d conv1_{nullptr};
  std::vector<torch::nn::Sequential> layers_;
  torch::nn::BatchNorm2d bn_{nullptr};
  torch::nn::Linear linear_{nullptr};
};

}  // namespace rampart::models
