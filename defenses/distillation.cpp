#include "defenses/distillation.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/nn/functional/loss.h>

#include "core/error.h"

namespace rampart::defenses {
namespace {

void check_temperature(double temperature) {
  if (!(temperature > 0)) {
    throw ConfigError("defense.temperature must be > 0, got " + std::to_string(temperature));
  }
}

}  // namespace

training::BatchObjective temperature_cross_entropy(models::Classifier& model, const at::Tensor& x,
                                                   const at::Tensor& y, double temperature) {
  check_temperature(temperature);
  const at::Tensor logits = model.forward(x);
  return {torch::nn::functional::cross_entropy(logits / temperature, y), logits.detach()};
}

training::BatchObjective distillation_loss(models::Classifier& student,
                                           models::Classifier& teacher, const at::Tensor& x,
                                           double temperature) {
  check_temperature(temperature);
  at::Tensor soft_labels;
  {
    const bool was_training = teacher.is_training();
    teacher.eval();
    c10::NoGradGuard no_grad;
    soft_labels = (teacher.forward(x) / temperature).softmax(1);
    teacher.train(was_training);
  }
  const at::Tensor logits = student.forward(x);
  const at::Tensor loss = -(soft_labels * (logits / temperature).log_softmax(1)).sum(1).mean();
  return {loss, logits.detach()};
}

}  // namespace rampart::defenses
