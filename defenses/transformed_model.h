#pragma once

#include <memory>
#include <string>
#include <vector>

#include "defenses/input_transforms.h"
#include "models/model.h"

namespace rampart::defenses {

/// A model behind input transforms (bit depth, median, JPEG): forward(x) = inner(T_k(...T_1(x))).
/// The transforms act as deployed preprocessing, outside the graph: an attack on this model
/// gets a zero gradient through them, which is how such defenses look robust.
/// straight_through() is the same function with BPDA's backward through every transform
/// (identity, or the median's own subgradient): the adaptive attack that exposes them.
///
/// Example:
///   defenses::TransformedModel defended(model, {defenses::InputTransform({"jpeg", 0, 0, 75}, 0, 1)});
///   auto naive = attack.run(defended, x, y);
///   auto adaptive = attack.run(*defended.straight_through(), x, y);
class TransformedModel : public models::Model {
 public:
  TransformedModel(std::shared_ptr<models::Model> inner, std::vector<InputTransform> transforms,
                   bool straight_through = false);
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor predict(const at::Tensor& x) override;
  bool predicts_by_argmax() const override { return inner_->predicts_by_argmax(); }
  bool is_training() const override { return inner_->is_training(); }
  void set_training(bool training) override { inner_->set_training(training); }
  std::vector<at::Tensor> parameters() override { return inner_->parameters(); }
  std::string describe() const override;
  std::vector<bool> module_modes() const override { return inner_->module_modes(); }
  void set_module_modes(const std::vector<bool>& modes) override {
    inner_->set_module_modes(modes);
  }
  Model* straight_through() override;

  /// The transforms applied to `x` (as the model sees its input).
  at::Tensor transform(const at::Tensor& x) const;
  /// The model behind the transforms.
  models::Model& inner() { return *inner_; }
  /// Whether a transform draws new randomness on every pass (gaussian_noise).
  bool is_random() const;

 private:
  std::shared_ptr<models::Model> inner_;
  std::vector<InputTransform> transforms_;
  bool is_straight_through_;
  std::unique_ptr<TransformedModel> straight_through_;  // built on first use
};

}  // namespace rampart::defenses
