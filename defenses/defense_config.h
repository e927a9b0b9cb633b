#pragma once

#include <optional>

#include "core/config_node.h"
#include "defenses/adversarial_training.h"

namespace rampart::defenses {

/// The `defense:` section of a train config.
///
/// Example (YAML):
///   defense:
///     method: pgd_at          # pgd_at | fgsm_rs | trades | none
///     eps: 0.1
///     steps: 10               # pgd_at, trades
///     step_size: 0.025        # 0 or absent: 2.5 * eps / steps (pgd_at, trades), 1.25 * eps
///     (fgsm_rs) random_init: true       # pgd_at clean_weight: 0.0       # pgd_at beta: 6.0 #
///     trades validation: {steps: 10, points: 1000}   # per-epoch PGD robust accuracy, best epoch
///     kept
struct DefenseSpec {
  std::optional<AdversarialTrainingOptions> adversarial;  ///< absent: standard training
  int64_t validation_steps = 10;                          ///< PGD steps of the per-epoch score
  int64_t validation_points = 1000;                       ///< 0 = the whole validation split
};

/// Reads the optional `defense` child of a train config's root (absent or `method: none`:
/// standard training). Keys that do not apply to the method, wrong types and out-of-range
/// values are ConfigErrors with file:line:column; adversarial training without a
/// `validation` split is one too (the best robust epoch needs it). The box comes from
/// model.input.range, given here as `box`.
DefenseSpec parse_defense_spec(const core::ConfigNode& root, double box_min, double box_max);

}  // namespace rampart::defenses
