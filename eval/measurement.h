#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "eval/attack_runner.h"
#include "eval/eval_config.h"
#include "eval/sanity.h"
#include "models/model.h"

namespace rampart::eval {

/// The feature-squeezing detector as calibrated on the held-out clean data.
struct DetectorMeasurement {
  std::string description;     ///< FeatureSqueezingDetector::describe()
  double threshold = 0;
  int64_t calibration_points = 0;
  double calibration_fpr = 0;  ///< flagged share of the calibration points
  at::Tensor clean_flagged;    ///< bool [N]: evaluated clean points the detector flags
};

/// Everything an evaluation needs from running the model, and nothing computed from it: the
/// half of `rampart eval` that executes model code. For an untrusted (TorchScript) model it is
/// made inside a confined worker (eval::measure_in_sandbox) and checked field by field when it
/// comes back; Rampart's own process turns it into the report (eval::summarise).
struct Measurements {
  std::string model_description;  ///< Model::describe()
  at::Tensor clean_predictions;   ///< int64 [N]
  std::vector<SanityCheck> probe;  ///< eval::probe_checks on the clean-correct points
  std::optional<DetectorMeasurement> detector;
  /// One per configured attack, in order. Each run's outcome.robust is left undefined: the
  /// summary derives it from the clean predictions, the cascade and outcome.success.
  std::vector<AttackRun> attacks;
  std::vector<at::Tensor> example_predictions;  ///< int64 [K] per attack: predict(examples)
};

/// Which points each attack runs on: the clean-correct ones, and with `cascade` only those
/// still robust to the earlier attacks of the same budget; a backdoor entry, the clean-correct
/// points of other classes than its target. measure() and summarise() walk the attacks through
/// the same masks.
class CascadeMasks {
 public:
  /// `labels`: int64 [N], the points' true labels.
  CascadeMasks(bool cascade, at::Tensor clean_correct, at::Tensor labels);
  /// bool [N]: the points `attack` runs on.
  at::Tensor mask(const ConfiguredAttack& attack) const;
  /// Records the points `attack` fooled (bool [N]); returns the robust ones: clean-correct (and,
  /// cascaded, left robust by the earlier attacks) and not fooled. A backdoor's target-class
  /// points are not attacked and count as robust when clean-correct.
  at::Tensor record(const ConfiguredAttack& attack, const at::Tensor& success);

 private:
  bool cascade_;
  at::Tensor clean_correct_;
  at::Tensor labels_;
  std::map<std::string, at::Tensor> still_robust_;  ///< budget key -> bool [N]
};

/// Which part of an evaluation one call of measure() makes: a distributed evaluation gives each
/// rank a contiguous range of the points. Clean predictions (and the detector's flags) always
/// cover every point, so every part knows which points are clean-correct; the attacks run only
/// on the range; the sanity probes (which take the first clean-correct points of the whole data
/// set) run in the part that has `sanity_probes`. Every random start depends on the point's
/// index in the whole data set, never on its batch, so the parts, merged
/// (eval::merge_measurements), are the one-process measurements point by point.
struct MeasureScope {
  int64_t begin = 0;
  int64_t end = -1;  ///< one past the last point; -1: to the end
  bool sanity_probes = true;
};

/// Runs the model as the config says: clean predictions, the sanity probe, the detector's
/// calibration (on `calibration`, present exactly when the config has a detector), every
/// attack and the predictions on the example images. `data` is on the CPU. The model runs in
/// eval mode without parameter gradients and is restored afterwards.
Measurements measure(const EvalConfig& config, models::Model& model, const datasets::Dataset& data,
                     const datasets::Dataset* calibration, bool quiet,
                     const MeasureScope& scope = {});

/// One evaluation's measurements from its parts (in point order, each measured with the
/// scope of the same position in `scopes`, together covering every point once): per-point
/// results from the part that attacked the point, sample counts summed, each attack's seconds
/// the longest part's (they ran side by side), the example images the first
/// `config.report.examples` in point order, clean predictions, the detector and the sanity
/// probes from the part that measured them. Throws std::invalid_argument when the parts do not
/// fit together (a gap or an overlap, a different attack list, disagreeing clean predictions).
Measurements merge_measurements(const EvalConfig& config, std::vector<Measurements> parts,
                                const std::vector<MeasureScope>& scopes);

}  // namespace rampart::eval
