#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "datasets/dataset_spec.h"
#include "eval/attack_config.h"
#include "eval/gates.h"
#include "models/model_spec.h"

namespace rampart::eval {

/// The `report:` section: where the report goes and what it contains.
struct ReportSpec {
  std::string dir = "reports/eval";
  std::vector<std::string> formats{"json", "markdown", "junit", "html"};
  bool save_adversarial = false;  ///< adv/<attack-id>.npy, float32, evaluated points in order
  int64_t examples = 8;           ///< example images per attack in report.html and images/
};

/// The `sanity:` section: the gradient-masking checks and their thresholds.
struct SanitySpec {
  int64_t points = 128;             ///< clean-correct points probed
  double zero_gradient_max = 0.05;  ///< flag when more points than this have all-zero gradients
  double large_eps_max_accuracy = 0.02;  ///< PGD at a huge Linf budget must get this low
  double tolerance = 0.01;               ///< slack for "should not rise with eps" and "PGD >= FGSM"
};

/// The `detector:` section: a feature-squeezing detector calibrated on clean held-out data.
struct DetectorSpec {
  std::vector<models::TransformSpec> squeezers;  ///< default: bit_depth 1, median 2 (Xu et al.)
  double fpr = 0.05;
  datasets::DatasetSpec calibration;
};

/// The `distributed:` section: the attacks shared among processes, one report from rank 0.
///   distributed: {workers: 4, backend: gloo, timeout_seconds: 3600}
struct DistributedEvalSpec {
  int64_t workers = 0;  ///< local processes to launch; 0: join the job the environment describes
  std::string backend = "gloo";  ///< the results cross once, on the CPU: gloo on every build
  int64_t timeout_seconds = 3600;  ///< how long rank 0 waits for the slowest rank's results
};

/// An evaluation config (`rampart eval CONFIG`), validated against one schema:
///
///   seed: 0
///   device: auto          # cpu | cuda | auto
///   threads: 0            # 0 = all cores
///   model: {path: model.pt, sha256: ..., input: {shape: [1, 28, 28], range: [0, 1]}}
///   data: {format: idx, images: ..., labels: ..., limit: 1000, batch_size: 256}
///   attacks: [{name: pgd, norm: linf, eps: [0.05, 0.1], steps: 20}]
///   cascade: true         # a later attack at a budget attacks only points still robust
///   report: {dir: reports/x, formats: [json, markdown, junit, html], save_adversarial: false}
///   sanity: {points: 128, zero_gradient_max: 0.05, large_eps_max_accuracy: 0.02}
///   gates: {clean_accuracy: {min: 0.85}, robust_accuracy: {worst: {min: 0.6}}}
///   detector: {name: feature_squeezing, squeezers: [...], fpr: 0.05, calibration: {data...}}
///   distributed: {workers: 4}   # share the attacks among 4 local processes
///
/// Every error is a ConfigError naming file:line:column and the key path.
struct EvalConfig {
  uint64_t seed = 0;
  std::string device = "cpu";
  int64_t threads = 0;
  models::ModelSpec model;
  datasets::DatasetSpec data;
  std::vector<ConfiguredAttack> attacks;
  bool cascade = true;
  /// A configured transform draws new randomness on every pass (gaussian_noise): verdicts by
  /// one fresh prediction, no early stop (computed once, from model.transforms).
  bool randomised = false;
  ReportSpec report;
  SanitySpec sanity;
  std::vector<Gate> gates;
  std::optional<DetectorSpec> detector;
  std::optional<DistributedEvalSpec> distributed;
  std::string source;       ///< the config file ("--" for text)
  std::string config_hash;  ///< SHA-256 of the effective config (overrides applied)
  /// The effective config as YAML (what config_hash hashes): a sandboxed evaluation worker
  /// parses it again rather than receiving the parsed structures.
  std::string effective_yaml;
};

EvalConfig parse_eval_config(const core::ConfigNode& root);

/// The budget keys ("linf-0.1") of the bounded attacks, in first-seen order.
std::vector<std::string> budget_keys(const std::vector<ConfiguredAttack>& attacks);

}  // namespace rampart::eval
