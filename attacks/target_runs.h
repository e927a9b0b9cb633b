#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "models/model.h"

namespace rampart::attacks::detail {

/// One run of a multi-run attack (APGD, FAB): the points not fooled yet and, for a targeted
/// run, the class each is pushed to.
struct PendingRun {
  at::Tensor pending;  ///< int64 [P]: rows of the batch still unfooled
  at::Tensor x;        ///< their clean inputs
  at::Tensor labels;   ///< their labels
  at::Tensor targets;  ///< int64 [P]: the target-th most likely other class; undefined untargeted
  int64_t restart = 0; ///< restart index within this target
  int64_t run = 0;     ///< runs so far over all targets (keys the random draws)
};

/// AutoAttack's loop over target classes and restarts (fra31/auto-attack, apgd-t and fab-t):
/// for target = 1..target_classes (once, untargeted, when target_classes is 0) and each restart,
/// calls `body` on the rows where `fooled` (bool [N], updated by `body`) is still false. A
/// targeted run's classes come from one forward pass of the clean inputs (counted in
/// `forwards`); targets past the model's classes end the loop, as do no pending rows.
void for_each_pending_run(models::Model& model, const at::Tensor& clean, const at::Tensor& labels,
                          const at::Tensor& fooled, int64_t target_classes, int64_t restarts,
                          int64_t& forwards, const std::function<void(const PendingRun&)>& body);

}  // namespace rampart::attacks::detail
