#pragma once

#include <torch/arg.h>

#include <memory>
#include <string>
#include <vector>

#include "attacks/attack.h"

namespace rampart::attacks {

/// Which AutoAttack (Croce & Hein 2020): the reference's versions (fra31/auto-attack,
/// autoattack.py, set_version):
///   standard: APGD-CE, APGD-T (9 targets), FAB-T (9 targets), Square (5000 queries)
///   plus:     APGD-CE and APGD-DLR (5 restarts each), FAB (5 restarts), Square, APGD-T, FAB-T
///   rand:     APGD-CE and APGD-DLR, each with EOT over 20 draws (randomised defenses)
///   custom:   the components listed
enum class AutoAttackVersion { kStandard, kPlus, kRand, kCustom };

struct AutoAttackOptions {
  explicit AutoAttackOptions(double eps) : eps_(eps) {}
  TORCH_ARG(double, eps);
  TORCH_ARG(Norm, norm) = Norm::kLinf;
  TORCH_ARG(AutoAttackVersion, version) = AutoAttackVersion::kStandard;
  /// For kCustom: component names in the order they run, from apgd-ce, apgd-dlr, apgd-t,
  /// fab-t, square.
  TORCH_ARG(std::vector<std::string>, components) = {};
  TORCH_ARG(uint64_t, seed) = 0;
  /// The random-draw family, as PGDOptions::stream; each component mixes in its name.
  TORCH_ARG(uint64_t, stream) = 0;
  TORCH_ARG(double, clip_min) = 0.0;
  TORCH_ARG(double, clip_max) = 1.0;
};

/// The component attacks of `options` in the order they run. Throws ConfigError for an unknown
/// or repeated component, an empty custom list, or components listed for a fixed version.
std::vector<std::shared_ptr<Attack>> autoattack_components(const AutoAttackOptions& options);

/// The AutoAttack ensemble: each component runs on the points every earlier one left robust, and
/// each point keeps the example of the component that fooled it first (the per-point worst
/// case). AttackResult::fooled_by records that component's index (-1: none).
class AutoAttack : public Attack {
 public:
  explicit AutoAttack(AutoAttackOptions options);
  AttackResult run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids = {}) const override;
  /// `autoattack-linf-0.1`
  std::string id() const override;
  std::vector<std::shared_ptr<const Attack>> parts() const override;

 private:
  AutoAttackOptions options_;
  std::vector<std::shared_ptr<Attack>> components_;
};

}  // namespace rampart::attacks
