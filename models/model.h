#pragma once

#include <ATen/core/Tensor.h>
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"

namespace rampart::models {

/// What attacks and evaluation see of a model: a callable from a float batch [N, C, H, W] in
/// the input box to logits [N, classes], with a train/eval switch and its parameters. Adapters
/// exist for built-in classifiers and TorchScript modules; ensembles and input transforms
/// implement it too.
///
/// Example:
///   auto loaded = models::load_torchscript("model.pt", {});
///   models::TorchScriptModel model(loaded.module);
///   at::Tensor logits = model.forward(x);
class Model {
 public:
  virtual ~Model() = default;
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  virtual bool is_training() const = 0;
  virtual void set_training(bool training) = 0;
  virtual std::vector<at::Tensor> parameters() = 0;
  /// A short description for logs and reports.
  virtual std::string describe() const = 0;
  /// The training flag of every submodule (pre-order), so that a model in a mixed mode (e.g.
  /// frozen batch norm) is restored exactly. The default treats the model as one module.
  virtual std::vector<bool> module_modes() const { return {is_training()}; }
  virtual void set_module_modes(const std::vector<bool>& modes) { set_training(modes.at(0)); }
  /// The predicted class of each sample, int64 [N]. The default is argmax(forward); a majority
  /// vote ensemble predicts by its vote while attacks climb its averaged logits.
  virtual at::Tensor predict(const at::Tensor& x) { return forward(x).argmax(1); }
  /// False when predict() is not argmax(forward) (the harness then judges every adversarial
  /// example by predict(), not by the logits the attack saw).
  virtual bool predicts_by_argmax() const { return true; }
  /// The same function with every non-differentiable part passing its gradient straight
  /// through (BPDA, Athalye et al. 2018), or nullptr when the model has no such part. The view
  /// shares the model's weights and lives as long as the model.
  virtual Model* straight_through() { return nullptr; }
};

/// A built-in classifier as a Model.
class ClassifierModel : public Model {
 public:
  explicit ClassifierModel(std::shared_ptr<Classifier> classifier);
  at::Tensor forward(const at::Tensor& x) override;
  bool is_training() const override;
  void set_training(bool training) override;
  std::vector<at::Tensor> parameters() override;
  std::string describe() const override;
  std::vector<bool> module_modes() const override;
  void set_module_modes(const std::vector<bool>& modes) override;

 private:
  std::shared_ptr<Classifier> classifier_;
};

/// A TorchScript module (its `forward(Tensor) -> Tensor`) as a Model.
class TorchScriptModel : public Model {
 public:
  explicit TorchScriptModel(torch::jit::Module module, std::string name = "torchscript");
  at::Tensor forward(const at::Tensor& x) override;
  bool is_training() const override;
  void set_training(bool training) override;
  std::vector<at::Tensor> parameters() override;
  std::string describe() const override;
  std::vector<bool> module_modes() const override;
  void set_module_modes(const std::vector<bool>& modes) override;

 private:
  torch::jit::Module module_;
  std::string name_;
};

/// For the lifetime of the guard: the model in eval mode and its parameters not requiring
/// gradients, so an attack computes input gradients only and accumulates nothing in `.grad`.
/// Every submodule's mode and every requires_grad flag is restored afterwards, even on error.
/// Not for a model shared with another thread that changes these flags at the same time.
class AttackModeGuard {
 public:
  explicit AttackModeGuard(Model& model);
  ~AttackModeGuard();
  AttackModeGuard(const AttackModeGuard&) = delete;
  AttackModeGuard& operator=(const AttackModeGuard&) = delete;

 private:
  void restore() noexcept;

  Model& model_;
  std::vector<bool> modes_;
  std::vector<std::pair<at::Tensor, bool>> requires_grad_;
};

}  // namespace rampart::models
