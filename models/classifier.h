#pragma once

#include <torch/nn/module.h>
#include <torch/script.h>

#include <string>
#include <vector>

namespace rampart::models {

/// Declared input of a model: shape of one sample (C, H, W) and the value box.
struct InputSpec {
  std::vector<int64_t> shape{1, 28, 28};
  double range_min = 0.0;
  double range_max = 1.0;
};

/// A built-in image classifier: a torch::nn::Module mapping a float batch [N, C, H, W] in the
/// input box to logits [N, num_classes], that can also export itself as TorchScript.
class Classifier : public torch::nn::Module {
 public:
  Classifier(InputSpec input, int64_t num_classes)
      : input_(std::move(input)), num_classes_(num_classes) {}
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  /// The penultimate representation, which the last (linear) layer maps to the logits: [N, D].
  /// The default layer of the poisoning detectors (defenses/poisoning/), which read it in
  /// batches without gradients.
  virtual at::Tensor features(const at::Tensor& x) = 0;
  /// The architecture name used in configs and checkpoint metadata (`model.arch`).
  virtual std::string arch() const = 0;
  int64_t num_classes() const { return num_classes_; }
  const InputSpec& input() const { return input_; }
  /// A TorchScript module computing the same function in eval mode, with the same parameter
  /// and buffer names (state_dict keys), for users' Python code (`torch.jit.load`).
  virtual torch::jit::Module to_torchscript() const = 0;

 private:
  InputSpec input_;
  int64_t num_classes_;
};

}  // namespace rampart::models
