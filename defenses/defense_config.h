#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "defenses/adversarial_training.h"
#include "models/model_spec.h"

namespace rampart::defenses {

// clang-format off
/// The `defense:` section of a train config.
///
/// Example (YAML):
///   defense:
///     method: pgd_at          # pgd_at | fgsm_rs | trades | distillation | none
///     eps: 0.1
///     steps: 10               # pgd_at, trades
///     step_size: 0.025        # 0 or absent: 2.5 * eps / steps; fgsm_rs: 1.25 * eps
///     random_init: true       # pgd_at
///     clean_weight: 0.0       # pgd_at
///     beta: 6.0               # trades
///     validation: {steps: 10, points: 1000}   # per-epoch PGD score; the best epoch is kept
///
///   defense: {method: distillation, temperature: 100, teacher: t.safetensors, teacher_sha256: ...}
///
///   defense:
///     method: ensemble_at     # Tramer et al. 2018
///     eps: 0.1
///     attack: fgsm            # fgsm (one step of eps) | fgsm_rs | pgd (with steps)
///     clean_weight: 0.5
///     static_models: [{arch: small_cnn, checkpoint: a.safetensors, sha256: ...}, {path: b.pt}]
// clang-format on
struct DistillationSpec {
  double temperature = 100.0;
  /// A safetensors checkpoint of the config's architecture; empty: train the teacher first
  /// (same data and schedule, at the temperature) under `<train.output>/teacher`.
  std::string teacher;
  /// The teacher's pin (`teacher_sha256`) and the config's `security:` policy.
  security::IntakeOptions teacher_intake;
};

struct DefenseSpec {
  std::optional<AdversarialTrainingOptions> adversarial;  ///< absent: standard training
  std::optional<DistillationSpec> distillation;
  /// ensemble_at: the pre-trained sources (they take the trained model's input and classes).
  std::vector<models::ModelSpec> static_models;
  int64_t validation_steps = 10;     ///< PGD steps of the per-epoch score
  int64_t validation_points = 1000;  ///< 0 = the whole validation split
};

/// Reads the optional `defense` child of a train config's root (absent or `method: none`:
/// standard training). Keys that do not apply to the method, wrong types and out-of-range
/// values are ConfigErrors with file:line:column; adversarial training without a
/// `validation` split is one too (the best robust epoch needs it). The box comes from
/// model.input.range, given here as `box`.
DefenseSpec parse_defense_spec(const core::ConfigNode& root, double box_min, double box_max);

}  // namespace rampart::defenses
