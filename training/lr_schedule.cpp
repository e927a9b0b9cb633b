#include "training/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace rampart::training {

ScheduleSpec parse_schedule_spec(const core::ConfigNode& node) {
  node.expect_keys({"name", "step_size", "gamma", "warmup_epochs"});
  ScheduleSpec spec;
  spec.name = node.get_choice("name", {"constant", "step", "cosine"}, "cosine");
  if (spec.name == "step") {
    spec.step_size = node.get_int("step_size", 1, 1);
    spec.gamma = node.get_double("gamma", 0.1, 0.0, 1.0);
  } else if (node.has("step_size") || node.has("gamma")) {
    node.fail("'step_size' and 'gamma' apply to the step schedule only");
  }
  spec.warmup_epochs = node.get_double("warmup_epochs", 0.0, 0.0, 1000.0);
  return spec;
}

double learning_rate(const ScheduleSpec& schedule, double base_lr, int64_t epoch, int64_t step,
                     int64_t steps_per_epoch, int64_t epochs) {
  const double progress =
      static_cast<double>(epoch) + static_cast<double>(step) / static_cast<double>(steps_per_epoch);
  double lr = base_lr;
  if (schedule.name == "step") {
    lr = base_lr * std::pow(schedule.gamma, static_cast<double>(epoch / schedule.step_size));
  } else if (schedule.name == "cosine") {
    const double t = progress / static_cast<double>(epochs);
    lr = base_lr * 0.5 * (1.0 + std::cos(M_PI * t));
  }
  if (schedule.warmup_epochs > 0 && progress < schedule.warmup_epochs) {
    // Capped at 1: a warm-up that ends inside a step (0.01 epochs of 10 steps) would otherwise
    // multiply the rate at that step (by 10 there).
    lr *= std::min(1.0, (progress + 1.0 / static_cast<double>(steps_per_epoch)) /
                            schedule.warmup_epochs);
  }
  return lr;
}

}  // namespace rampart::training
