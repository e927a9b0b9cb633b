#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "eval/eval_config.h"
#include "models/model.h"

namespace rampart::eval {

/// One check against gradient masking or a broken evaluation (Carlini et al. 2019, "On
/// Evaluating Adversarial Robustness", section 5; Athalye et al. 2018). A flagged check is a
/// warning in every report and a failure (exit 1) under `--strict`.
struct SanityCheck {
  std::string id;  ///< eps_monotonic, pgd_vs_fgsm, large_eps, deterministic, eval_mode,
                   ///< zero_gradients, eps_range, probability_output, square_beats_gradients
  bool flagged = false;
  double value = 0;      ///< the measured quantity (see `message`)
  double threshold = 0;  ///< the value beyond which the check is flagged
  std::string message;   ///< one sentence with the numbers
};

/// One attack's cumulative robust accuracy at one eps, for the eps-monotonicity check.
struct CurvePoint {
  std::string family;  ///< "<name>-<norm>", e.g. pgd-linf
  double eps = 0;
  double robust_accuracy = 0;
};

/// Robust accuracy should not rise with eps within one attack family. One check per family
/// with two or more eps.
std::vector<SanityCheck> eps_monotonic_checks(const std::vector<CurvePoint>& points,
                                              double tolerance);

/// What the probe looks at: the model as the user handed it, and up to `spec.points`
/// clean-correct points (on the model's device).
struct ProbeInput {
  models::Model* model = nullptr;
  at::Tensor x, labels;
  std::vector<bool> modes_as_loaded;  ///< Model::module_modes() before evaluation
  double clip_min = 0, clip_max = 1;
  double reference_linf_eps = 0;  ///< FGSM vs PGD budget (the smallest configured Linf eps)
  int64_t batch_size = 256;
  uint64_t seed = 0;
};

/// The model-level checks, run on the probe points: the model was in eval mode as loaded; two
/// forward passes agree; the fraction of points whose loss gradient is exactly zero; PGD at
/// a very large Linf budget (half the input range) drives accuracy to (almost) 0, each point
/// leaving the attack once fooled.
std::vector<SanityCheck> probe_checks(const ProbeInput& input, const SanitySpec& spec);

/// PGD is not weaker than FGSM at Linf `eps`: `fgsm_fooled` and `pgd_fooled` (bool [P]) are the
/// two attacks' verdicts on the same probe points, judged as the harness judges (the measuring
/// side reuses the configured attacks' verdicts where they ran; eval/measure.cpp).
SanityCheck pgd_vs_fgsm_check(const at::Tensor& fgsm_fooled, const at::Tensor& pgd_fooled,
                              double eps, double tolerance, const std::string& pgd_id);

/// Flags bounded attacks whose eps reaches half the input range (Linf) or half the box's
/// diagonal (L2): `eps: 8` on a [0, 1] input is a unit mistake, and any budget that large can
/// move every input to the box's centre. None when every eps is below that.
std::optional<SanityCheck> eps_range_check(const std::vector<ConfiguredAttack>& attacks,
                                           double clip_min, double clip_max,
                                           int64_t input_elements);

/// Square after gradient attacks at one budget: the points it fooled that they left robust.
struct SquareShare {
  std::string square_id;  ///< the Square attack (or AutoAttack's component) id
  int64_t fooled_after_gradients = 0;
};

/// AutoAttack's check (checks.py, check_square_sr): a score-based attack that uses no gradients
/// should add (almost) nothing after gradient attacks; flagged when it fools more than 0.2% of
/// the evaluated points they left robust. None when no Square ran after a gradient attack.
std::optional<SanityCheck> square_check(const std::vector<SquareShare>& shares,
                                        int64_t num_points);

}  // namespace rampart::eval
