#pragma once

#include <cstdint>
#include <string>

#include "core/config_node.h"

namespace rampart::training {

/// `train.schedule`: the learning rate as a pure function of progress, so a resumed run sets
/// exactly the rates an uninterrupted one would.
///   constant: lr
///   step:     lr * gamma^floor(epoch / step_size)                       (per epoch)
///   cosine:   lr * (1 + cos(pi * t)) / 2, t = fraction of all steps done (per step)
/// An optional linear warm-up over `warmup_epochs` multiplies any of them.
struct ScheduleSpec {
  std::string name = "cosine";  ///< constant | step | cosine
  int64_t step_size = 1;
  double gamma = 0.1;
  double warmup_epochs = 0.0;
};

ScheduleSpec parse_schedule_spec(const core::ConfigNode& node);

/// Learning rate for step `step` (0-based) of epoch `epoch` (0-based).
double learning_rate(const ScheduleSpec& schedule, double base_lr, int64_t epoch, int64_t step,
                     int64_t steps_per_epoch, int64_t epochs);

}  // namespace rampart::training
