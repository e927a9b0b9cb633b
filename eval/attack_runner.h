#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "defenses/feature_squeezing.h"
#include "eval/attack_config.h"
#include "eval/metrics.h"
#include "models/model.h"

namespace rampart::eval {

/// How one attack is run over a data set.
struct AttackRunSettings {
  int64_t batch_size = 256;
  c10::Device device = c10::Device(c10::kCPU);
  bool keep_adversarial = false;  ///< return every adversarial input (for adv/<id>.npy)
  int64_t examples = 0;           ///< successful examples kept for the report's image grid
  bool quiet = false;             ///< no progress display
  /// The model draws new randomness on every pass (a gaussian_noise transform): every
  /// adversarial example is judged by one fresh forward pass, as AutoAttack's reference judges
  /// them, not by the lucky draw an attack stopped at.
  bool randomised = false;
  /// When set, every adversarial example is scored by the detector (AttackRun::detected).
  const defenses::FeatureSqueezingDetector* detector = nullptr;
};

/// One attack's per-point results over the whole data set.
struct AttackRun {
  AttackOutcome outcome;           ///< robust is set by the caller (it depends on the cascade)
  int64_t attacked = 0;            ///< points attacked
  at::Tensor adversarial;          ///< float [N, ...] (clean where not attacked), when kept
  at::Tensor example_indices;      ///< int64 [K]: successful points, in data order
  at::Tensor example_adversarial;  ///< float [K, ...]
  at::Tensor detected;             ///< bool [N]: flagged by the detector (false if not attacked)
};

/// Runs `attack` on the points where `mask` (bool [N]) holds, in batches on `settings.device`,
/// with a progress bar on stderr. `images` and `labels` are the whole data set on the CPU.
/// success, l2 and linf are false/0 where a point was not attacked.
AttackRun run_attack(const ConfiguredAttack& attack, models::Model& model, const at::Tensor& images,
                     const at::Tensor& labels, const at::Tensor& mask,
                     const AttackRunSettings& settings);

}  // namespace rampart::eval
