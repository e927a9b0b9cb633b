#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/model_spec.h"

namespace rampart::defenses {

/// N models as one (Model interface), combined by
///   logits:        forward = mean of the members' logits;
///   probabilities: forward = log(mean of the members' softmax), so argmax and cross-entropy
///                  are those of the averaged probabilities;
///   vote:          predict = the majority of the members' argmax (ties go to the class with
///                  the higher mean probability); forward = the averaged logits, a surrogate
///                  that attacks climb, since a vote has no gradient. The harness judges
///                  adversarial examples by the vote (predicts_by_argmax() is false).
/// Attacks see the whole ensemble: gradients flow through every member.
///
/// Example:
///   defenses::EnsembleModel ensemble({a, b, c}, models::Combine::kVote);
///   at::Tensor classes = ensemble.predict(x);
class EnsembleModel : public models::Model {
 public:
  EnsembleModel(std::vector<std::shared_ptr<models::Model>> members, models::Combine combine);
  at::Tensor forward(const at::Tensor& x) override;
  at::Tensor predict(const at::Tensor& x) override;
  bool predicts_by_argmax() const override;
  bool is_training() const override;
  void set_training(bool training) override;
  std::vector<at::Tensor> parameters() override;
  std::string describe() const override;
  std::vector<bool> module_modes() const override;
  void set_module_modes(const std::vector<bool>& modes) override;
  Model* straight_through() override;

  const std::vector<std::shared_ptr<models::Model>>& members() const { return members_; }

 private:
  std::vector<std::shared_ptr<models::Model>> members_;
  models::Combine combine_;
  std::unique_ptr<EnsembleModel> straight_through_;  // built on first use
};

}  // namespace rampart::defenses
