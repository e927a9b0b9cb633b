#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "attacks/attack.h"
#include "attacks/backdoor_trigger.h"

namespace rampart::attacks {

/// A backdoor's trigger as an attack: stamps the trigger on each point (the same TriggerSpec
/// the poisoning simulator stamps on training points) and succeeds where the model, as
/// deployed (Model::predict), then answers the trigger's target class. No gradient, one forward
/// pass per point. Over points of other classes its success rate is the backdoor's attack
/// success rate (ASR, Gu et al. 2017); the evaluation's `backdoor` entry runs it only on those.
///
/// Example:
///   attacks::TriggerSpec trigger;  // 3x3 white patch in the bottom-right corner
///   attacks::BackdoorAttack backdoor(trigger, /*target=*/0);
///   AttackResult r = backdoor.run(model, x, y);  // r.success: sent to class 0
class BackdoorAttack : public Attack {
 public:
  /// Throws ConfigError for a negative target or a trigger whose position is still to be drawn
  /// (random_position: the poisoner draws it from its seed; give the drawn row and col).
  BackdoorAttack(TriggerSpec trigger, int64_t target);

  /// `labels` are the true labels; they only size-check the batch (success is reaching the
  /// target, whatever the label).
  AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids = {}) const override;
  /// backdoor-<patch|blend>-to-<target>, e.g. backdoor-patch-to-3.
  std::string id() const override;

  const TriggerSpec& trigger() const { return trigger_; }
  int64_t target() const { return target_; }

 private:
  TriggerSpec trigger_;
  int64_t target_;
};

}  // namespace rampart::attacks
