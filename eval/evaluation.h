#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eval/gates.h"
#include "eval/metrics.h"
#include "eval/sanity.h"
#include "models/load_model.h"

namespace rampart::eval {

/// Where the numbers came from: enough to reproduce the run and to trust the inputs.
struct Provenance {
  std::string rampart_version, libtorch_version;
  std::string device;
  int64_t threads = 0;
  uint64_t seed = 0;
  std::string config_file, config_sha256;
  std::string model_path, model_sha256, model_description;
  int64_t model_bytes = 0;
  /// The model ran in a confined worker process (eval::measure_in_sandbox): it contains code
  /// (TorchScript). False: a built-in architecture with its weights, run in Rampart's process.
  bool model_sandboxed = false;
  /// Every file the model was read from (ensemble members), with what vouched for it and what
  /// the sandboxed probe saw.
  std::vector<models::ModelFileRecord> model_files;
  /// The model files that nothing vouched for (accepted under security.allow_unpinned).
  std::vector<std::string> unpinned_model_files() const {
    std::vector<std::string> paths;
    for (const auto& f : model_files) {
      if (f.verified_by.empty()) paths.push_back(f.path);
    }
    return paths;
  }
  std::string data_source;
  std::vector<std::pair<std::string, std::string>> data_files;  ///< path, SHA-256
  std::string data_manifest_root;  ///< the provenance manifest the data matched ("" when none)
  int64_t ranks = 1;  ///< processes that shared the attacks (a distributed evaluation)
  std::string started_at;                                       ///< UTC, ISO 8601
  std::string hostname;
};

/// One configured attack's results.
struct AttackReport {
  AttackMetrics metrics;
  std::string name;    ///< fgsm | pgd | cw
  std::string family;  ///< name, or name_tag: one robustness curve
  attacks::Norm norm = attacks::Norm::kLinf;
  double eps = 0;
  bool bounded = true;
  bool bpda = false;               ///< run through the transforms' straight-through view
  /// A backdoor entry: the trigger's target class and the trigger ("patch 3x3 solid at (24,
  /// 24), value 1"); -1 and empty otherwise. Its success rate is the attack success rate.
  int64_t backdoor_target = -1;
  std::string trigger;
  int64_t attacked = 0;            ///< points this attack ran on
  /// Cascade: the earlier attacks at the same budget. When non-empty this attack ran only on
  /// the points they left robust: its robust accuracy is cumulative (the worst case over them
  /// and it), its successes and L2/Linf statistics cover only the points it attacked.
  std::vector<std::string> after;
  double seconds = 0;
  int64_t forward_samples = 0, backward_samples = 0;
  /// An ensemble's parts in the order they ran, each with the points it fooled (the points the
  /// ones before it had left robust): AutoAttack's per-component share.
  std::vector<std::pair<std::string, int64_t>> components;
};

/// Worst case over the attacks of one budget (norm, eps).
struct BudgetReport {
  std::string key;  ///< linf-0.1
  attacks::Norm norm = attacks::Norm::kLinf;
  double eps = 0;
  double robust_accuracy = 0;
  std::vector<std::string> attacks;
  std::vector<double> per_class_robust_accuracy;
};

/// Example images of one attack: a PNG grid (clean, adversarial, amplified perturbation).
struct ExampleGrid {
  std::string attack_id;
  std::string file;  ///< images/<attack-id>.png, relative to the report directory
  std::string png;   ///< the encoded bytes
  int64_t count = 0;
};

/// How the detector did against one attack. The attacks were not adapted to the detector.
struct AttackDetection {
  std::string attack_id;
  int64_t successful = 0;           ///< adversarial examples that fooled the model
  int64_t detected_successful = 0;  ///< ... of which the detector flagged
  double detection_rate = 0;        ///< detected_successful / successful (0 when none)
  /// Points correct under attack or whose successful adversarial example was flagged, over all
  /// evaluated points: robust accuracy when a flagged input counts as stopped.
  double robust_or_detected = 0;
};

/// The detector at one budget: per point, correct under every attack of the budget or each
/// successful attack's example flagged.
struct BudgetDetection {
  std::string key;  ///< linf-0.1
  double robust_or_detected = 0;
};

/// The `detector:` section's results (feature squeezing).
struct DetectionReport {
  std::string description;  ///< "feature squeezing: bit_depth(bits=1), median(size=2)"
  double target_fpr = 0;
  double threshold = 0;
  std::string calibration_source;
  int64_t calibration_points = 0;
  double calibration_fpr = 0;  ///< flagged share of the calibration points (<= target_fpr)
  /// Flagged share of the evaluated clean points: the false-positive rate on data the
  /// threshold never saw.
  double fpr = 0;
  std::vector<AttackDetection> attacks;
  std::vector<BudgetDetection> budgets;
};

/// A finished evaluation: everything the report writers render.
struct Evaluation {
  Provenance provenance;
  int64_t num_points = 0, num_classes = 0;
  std::vector<std::string> class_names;  ///< one per class ("0".."9" when the data has none)
  std::vector<int64_t> class_counts;
  double clean_accuracy = 0;
  int64_t clean_correct = 0;
  std::vector<double> per_class_clean_accuracy;
  bool cascade = true;
  std::vector<AttackReport> attacks;
  std::vector<BudgetReport> budgets;
  std::optional<double> worst_robust_accuracy;  ///< lowest over budgets; none without any
  std::vector<SanityCheck> sanity;
  std::optional<DetectionReport> detection;
  bool strict = false;
  std::vector<GateResult> gates;
  std::vector<ExampleGrid> examples;
  std::string examples_unavailable;  ///< why there are no images (e.g. built without OpenCV)
  double seconds = 0;

  int64_t gates_failed() const;
  int64_t sanity_flagged() const;
  /// 0 when every gate passed (and, under --strict, no sanity check is flagged), else 1.
  int exit_code() const;
};

/// Robust accuracy against eps per attack family ("pgd-linf"), in eps order.
std::vector<CurvePoint> robustness_curve(const Evaluation& evaluation);

}  // namespace rampart::eval
