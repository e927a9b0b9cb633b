#include "models/mlp.h"

#include "core/error.h"
#include "models/torchscript_export.h"

namespace rampart::models {

MLP::MLP(InputSpec input, int64_t num_classes, int64_t hidden)
    : Classifier(std::move(input), num_classes) {
  if (hidden < 1) throw ConfigError("model.hidden: must be at least 1");
  int64_t flat = 1;
  for (int64_t s : this->input().shape) flat *= s;
  fc1_ = register_module("fc1", torch::nn::Linear(flat, hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden, num_classes));
}

at::Tensor MLP::features(const at::Tensor& x) { return fc1_->forward(x.flatten(1)).relu(); }

at::Tensor MLP::forward(const at::Tensor& x) { return fc2_->forward(features(x)); }

torch::jit::Module MLP::to_torchscript() const {
  torch::jit::Module m = mirror_as_torchscript(*this, "MLP");
  m.define(R"JIT(
def forward(self, x):
    h = torch.relu(torch.linear(torch.flatten(x, 1), self.fc1.weight, self.fc1.bias))
    return torch.linear(h, self.fc2.weight, self.fc2.bias)
)JIT");
  return m;
}

}  // namespace rampart::models
