#include "models/small_cnn.h"

#include <torch/nn/functional/pooling.h>

#include "core/error.h"
#include "models/torchscript_export.h"

namespace rampart::models {

std::string SmallCNN::input_problem(const InputSpec& input) {
  const auto& s = input.shape;
  if (s.size() != 3 || s[0] <= 0 || s[1] <= 0 || s[2] <= 0 || s[1] % 4 != 0 || s[2] % 4 != 0) {
    return "small_cnn needs [C, H, W] with H and W positive multiples of 4";
  }
  return "";
}

SmallCNN::SmallCNN(InputSpec input, int64_t num_classes)
    : Classifier(std::move(input), num_classes) {
  if (const std::string why = input_problem(this->input()); !why.empty()) {
    throw ConfigError("model.input.shape: " + why);
  }
  const auto& shape = this->input().shape;
  const int64_t c = shape[0];
  const int64_t flat = 64 * (shape[1] / 4) * (shape[2] / 4);
  conv1_ =
      register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, 32, 3).padding(1)));
  conv2_ =
      register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1)));
  fc1_ = register_module("fc1", torch::nn::Linear(flat, 128));
  fc2_ = register_module("fc2", torch::nn::Linear(128, num_classes));
}

at::Tensor SmallCNN::features(const at::Tensor& x) {
  namespace F = torch::nn::functional;
  at::Tensor h = F::max_pool2d(conv1_->forward(x).relu(), F::MaxPool2dFuncOptions(2));
  h = F::max_pool2d(conv2_->forward(h).relu(), F::MaxPool2dFuncOptions(2));
  return fc1_->forward(h.flatten(1)).relu();
}

at::Tensor SmallCNN::forward(const at::Tensor& x) { return fc2_->forward(features(x)); }

torch::jit::Module SmallCNN::to_torchscript() const {
  torch::jit::Module m = mirror_as_torchscript(*this, "SmallCNN");
  m.define(R"JIT(
def forward(self, x):
    h = torch.max_pool2d(torch.relu(torch.conv2d(x, self.conv1.weight, self.conv1.bias, [1, 1], [1, 1])), [2, 2])
    h = torch.max_pool2d(torch.relu(torch.conv2d(h, self.conv2.weight, self.conv2.bias, [1, 1], [1, 1])), [2, 2])
    h = torch.relu(torch.linear(torch.flatten(h, 1), self.fc1.weight, self.fc1.bias))
    return torch.linear(h, self.fc2.weight, self.fc2.bias)
)JIT");
  return m;
}

}  // namespace rampart::models
