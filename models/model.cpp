#include "models/model.h"

#include <stdexcept>

namespace rampart::models {

ClassifierModel::ClassifierModel(std::shared_ptr<Classifier> classifier)
    : classifier_(std::move(classifier)) {}

at::Tensor ClassifierModel::forward(const at::Tensor& x) { return classifier_->forward(x); }
bool ClassifierModel::is_training() const { return classifier_->is_training(); }
void ClassifierModel::set_training(bool training) { classifier_->train(training); }
std::vector<at::Tensor> ClassifierModel::parameters() { return classifier_->parameters(); }
std::string ClassifierModel::describe() const { return classifier_->arch(); }

TorchScriptModel::TorchScriptModel(torch::jit::Module module, std::string name)
    : module_(std::move(module)), name_(std::move(name)) {}

at::Tensor TorchScriptModel::forward(const at::Tensor& x) {
  c10::IValue out = module_.forward({x});
  if (!out.isTensor()) {
    throw std::runtime_error(name_ + ": forward must return one Tensor of logits, got " +
                             out.tagKind());
  }
  return out.toTensor();
}

bool TorchScriptModel::is_training() const {
  return module_.hasattr("training") && module_.is_training();
}
void TorchScriptModel::set_training(bool training) { module_.train(training); }

std::vector<at::Tensor> TorchScriptModel::parameters() {
  std::vector<at::Tensor> out;
  for (const auto& p : module_.parameters()) out.push_back(p);
  return out;
}

std::string TorchScriptModel::describe() const { return name_; }

std::vector<bool> ClassifierModel::module_modes() const {
  std::vector<bool> out;
  for (const auto& m : classifier_->modules(/*include_self=*/true)) out.push_back(m->is_training());
  return out;
}

// train() is recursive, so setting each module in pre-order leaves every one with its own flag.
void ClassifierModel::set_module_modes(const std::vector<bool>& modes) {
  const auto all = classifier_->modules(/*include_self=*/true);
  for (std::size_t i = 0; i < all.size() && i < modes.size(); ++i) all[i]->train(modes[i]);
}

std::vector<bool> TorchScriptModel::module_modes() const {
  std::vector<bool> out;
  // A module without a `training` attribute (hand-built TorchScript) has no mode to switch.
  for (const auto& m : module_.modules()) out.push_back(m.hasattr("training") && m.is_training());
  return out;
}

void TorchScriptModel::set_module_modes(const std::vector<bool>& modes) {
  std::size_t i = 0;
  for (auto m : module_.modules()) {
    if (i < modes.size()) m.train(modes[i]);
    ++i;
  }
}

AttackModeGuard::AttackModeGuard(Model& model) : model_(model), modes_(model.module_modes()) {
  try {
    model_.set_training(false);
    for (auto& p : model_.parameters()) {
      requires_grad_.emplace_back(p, p.requires_grad());
      p.set_requires_grad(false);
    }
  } catch (...) {
    restore();
    throw;
  }
}

AttackModeGuard::~AttackModeGuard() { restore(); }

void AttackModeGuard::restore() noexcept {
  try {
    for (auto& [p, flag] : requires_grad_) p.set_requires_grad(flag);
    model_.set_module_modes(modes_);
  } catch (...) {
    // Restoring flags on tensors and modules that were valid a moment ago does not fail.
  }
}

}  // namespace rampart::models
