#include "models/preact_resnet18.h"

#include <torch/nn/functional/pooling.h>

#include "core/error.h"
#include "models/torchscript_export.h"

namespace rampart::models {
namespace {

torch::nn::Conv2dOptions conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false);
}

// Eval-mode TorchScript for one block; `shortcut` says whether it has a projection.
std::string block_source(bool shortcut) {
  std::string src = R"JIT(
def forward(self, x):
    out = torch.relu(torch.batch_norm(x, self.bn1.weight, self.bn1.bias, self.bn1.running_mean, self.bn1.running_var, False, 0.0, 1e-5, True))
)JIT";
  src += shortcut ? "    sc = torch.conv2d(out, getattr(self.shortcut, '0').weight, None, "
                    "[self.stride, self.stride])\n"
                  : "    sc = x\n";
  src +=
      R"JIT(    out = torch.conv2d(out, self.conv1.weight, None, [self.stride, self.stride], [1, 1])
    out = torch.relu(torch.batch_norm(out, self.bn2.weight, self.bn2.bias, self.bn2.running_mean, self.bn2.running_var, False, 0.0, 1e-5, True))
    out = torch.conv2d(out, self.conv2.weight, None, [1, 1], [1, 1])
    return out + sc
)JIT";
  return src;
}

}  // namespace

PreActBlockImpl::PreActBlockImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(in_planes));
  conv1_ = register_module("conv1", torch::nn::Conv2d(conv3x3(in_planes, planes, stride)));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(planes));
  conv2_ = register_module("conv2", torch::nn::Conv2d(conv3x3(planes, planes, 1)));
  if (stride != 1 || in_planes != planes) {
    shortcut_ = register_module(
        "shortcut",
        torch::nn::Sequential(torch::nn::Conv2d(
            torch::nn::Conv2dOptions(in_planes, planes, 1).stride(stride).bias(false))));
  }
}

at::Tensor PreActBlockImpl::forward(const at::Tensor& x) {
  at::Tensor out = bn1_->forward(x).relu();
  at::Tensor sc = shortcut_.is_empty() ? x : shortcut_->forward(out);
  out = conv1_->forward(out);
  out = conv2_->forward(bn2_->forward(out).relu());
  return out + sc;
}

std::string PreActResNet18::input_problem(const InputSpec& input) {
  const auto& s = input.shape;
  if (s.size() != 3 || s[0] <= 0 || s[1] < 8 || s[2] < 8) {
    return "preact_resnet18 needs [C, H, W] with C >= 1 and H, W >= 8";
  }
  return "";
}

PreActResNet18::PreActResNet18(InputSpec input, int64_t num_classes)
    : Classifier(std::move(input), num_classes) {
  if (const std::string why = input_problem(this->input()); !why.empty()) {
    throw ConfigError("model.input.shape: " + why);
  }
  conv1_ = register_module("conv1", torch::nn::Conv2d(conv3x3(this->input().shape[0], 64, 1)));
  const int64_t planes[] = {64, 128, 256, 512};
  const int64_t strides[] = {1, 2, 2, 2};
  int64_t in_planes = 64;
  for (int i = 0; i < 4; ++i) {
    torch::nn::Sequential layer(PreActBlock(in_planes, planes[i], strides[i]),
                                PreActBlock(planes[i], planes[i], 1));
    layers_.push_back(register_module("layer" + std::to_string(i + 1), layer));
    in_planes = planes[i];
  }
  bn_ = register_module("bn", torch::nn::BatchNorm2d(512));
  linear_ = register_module("linear", torch::nn::Linear(512, num_classes));
}

at::Tensor PreActResNet18::features(const at::Tensor& x) {
  at::Tensor out = conv1_->forward(x);
  for (auto& layer : layers_) out = layer->forward(out);
  out = bn_->forward(out).relu();
  out = torch::nn::functional::adaptive_avg_pool2d(
      out, torch::nn::functional::AdaptiveAvgPool2dFuncOptions(1));
  return out.flatten(1);
}

at::Tensor PreActResNet18::forward(const at::Tensor& x) { return linear_->forward(features(x)); }

torch::jit::Module PreActResNet18::to_torchscript() const {
  torch::jit::Module m = mirror_as_torchscript(*this, "PreActResNet18");
  const int64_t strides[] = {1, 2, 2, 2};
  for (int i = 0; i < 4; ++i) {
    torch::jit::Module layer = m.attr("layer" + std::to_string(i + 1)).toModule();
    for (int j = 0; j < 2; ++j) {
      torch::jit::Module block = layer.attr(std::to_string(j)).toModule();
      const int64_t stride = j == 0 ? strides[i] : 1;
      block.register_attribute("stride", c10::IntType::get(), stride);
      block.define(block_source(layers_[i]->ptr<PreActBlockImpl>(j)->has_shortcut()));
    }
    layer.define(R"JIT(
def forward(self, x):
    return getattr(self, '1').forward(getattr(self, '0').forward(x))
)JIT");
  }
  m.define(R"JIT(
def forward(self, x):
    out = torch.conv2d(x, self.conv1.weight, None, [1, 1], [1, 1])
    out = self.layer4.forward(self.layer3.forward(self.layer2.forward(self.layer1.forward(out))))
    out = torch.relu(torch.batch_norm(out, self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var, False, 0.0, 1e-5, True))
    out = torch.flatten(torch.adaptive_avg_pool2d(out, [1, 1]), 1)
    return torch.linear(out, self.linear.weight, self.linear.bias)
)JIT");
  return m;
}

}  // namespace rampart::models
