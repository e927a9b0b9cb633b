#include "attacks/backdoor_attack.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "attacks/attack_ops.h"
#include "core/error.h"

namespace rampart::attacks {

BackdoorAttack::BackdoorAttack(TriggerSpec trigger, int64_t target)
    : trigger_(std::move(trigger)), target_(target) {
  if (target_ < 0) throw ConfigError("backdoor: target must be a class index >= 0");
  if (trigger_.random_position) {
    throw ConfigError("backdoor: random_position is drawn by the poisoner from its seed; give "
                      "the row and col it drew");
  }
}

AttackResult BackdoorAttack::run(models::Model& model, const at::Tensor& x,
                                 const at::Tensor& labels, const at::Tensor& /*point_ids*/) const {
  detail::check_batch(x, labels, trigger_.range_min, trigger_.range_max, "backdoor");
  models::AttackModeGuard guard(model);
  c10::NoGradGuard no_grad;
  const at::Tensor stamped = trigger_.apply(x);
  // The deployed decision: argmax of the logits, or the model's own (a vote) when it differs.
  const at::Tensor predicted = model.predicts_by_argmax() ? model.forward(stamped).argmax(1)
                                                          : model.predict(stamped);
  const at::Tensor success = predicted.eq(target_);
  return detail::make_result(x, stamped, success, x.size(0), 0);
}

std::string BackdoorAttack::id() const {
  return "backdoor-" + trigger_.type + "-to-" + std::to_string(target_);
}

}  // namespace rampart::attacks
