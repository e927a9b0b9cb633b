#include "attacks/fgsm.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include "attacks/attack_ops.h"
#include "core/error.h"

namespace rampart::attacks {

void validate(const FGSMOptions& options) {
  if (!(options.eps() >= 0)) throw ConfigError("fgsm: eps must be >= 0");
  if (!(options.clip_min() < options.clip_max())) throw ConfigError("fgsm: box needs min < max");
}

AttackResult fgsm(models::Model& model, const at::Tensor& x_given, const at::Tensor& labels_given,
                  const FGSMOptions& options) {
  const detail::OutOfInferenceMode normal;
  const at::Tensor x = normal.of(x_given), labels = normal.of(labels_given);
  validate(options);
  detail::check_batch(x, labels, options.clip_min(), options.clip_max(), "fgsm");
  models::AttackModeGuard guard(model);
  const auto step = detail::input_gradient(model, x, labels, options.loss(), options.targeted());
  c10::NoGradGuard no_grad;
  const at::Tensor adversarial =
      (x + options.eps() * detail::ascent_direction(step.grad, options.norm()))
          .clamp(options.clip_min(), options.clip_max());
  const at::Tensor success =
      detail::is_fooled(model, adversarial, model.forward(adversarial), labels, options.targeted());
  return detail::make_result(x, adversarial, success, 2 * x.size(0), x.size(0));
}

FGSM::FGSM(FGSMOptions options) : options_(std::move(options)) { validate(options_); }

AttackResult FGSM::run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                       const at::Tensor& /*point_ids: no random start*/) const {
  return fgsm(model, x, labels, options_);
}

std::string FGSM::id() const {
  return "fgsm-" + to_string(options_.norm()) + "-" + detail::format_eps(options_.eps());
}

}  // namespace rampart::attacks
