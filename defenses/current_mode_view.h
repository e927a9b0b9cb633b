#pragma once

#include <string>
#include <vector>

#include "models/model.h"

namespace rampart::defenses {

/// The model in whatever mode it is in: forwards everything to `inner` except mode switches,
/// which it ignores. An attack's AttackModeGuard freezes the parameters through this view but
/// cannot put the model in eval mode, so a model in train mode is attacked in train mode
/// (batch norm uses, and updates, the batch's statistics), as the adversarial training
/// references craft their examples (Madry et al.'s and Wong et al.'s code).
class CurrentModeView : public models::Model {
 public:
  explicit CurrentModeView(models::Model& inner) : inner_(inner) {}
  at::Tensor forward(const at::Tensor& x) override { return inner_.forward(x); }
  bool is_training() const override { return inner_.is_training(); }
  void set_training(bool) override {}
  std::vector<at::Tensor> parameters() override { return inner_.parameters(); }
  std::string describe() const override { return inner_.describe(); }
  std::vector<bool> module_modes() const override { return {}; }
  void set_module_modes(const std::vector<bool>&) override {}
  at::Tensor predict(const at::Tensor& x) override { return inner_.predict(x); }
  bool predicts_by_argmax() const override { return inner_.predicts_by_argmax(); }

 private:
  models::Model& inner_;
};

}  // namespace rampart::defenses
