#pragma once

#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "defenses/poisoning/data_audit.h"

namespace rampart::defenses::poisoning {

/// What the audit ran on, for the report.
struct AuditContext {
  std::string config_path;
  std::string data_source;
  std::string manifest_root;  ///< of the audited data ("" when no manifest was checked)
  std::string data_root;      ///< datasets::data_root of the audited data (binds data.exclude to it)
  std::string model;          ///< "small_cnn, checkpoint runs/x/checkpoint.safetensors (sha256 ...)"
  bool trained_here = false;  ///< the model was trained on the audited data by this run
  std::vector<std::string> class_names;
  double feature_seconds = 0;
  /// Optional ground truth (audit.ground_truth: the poisoned.npy of `rampart data poison`):
  /// int64 indices; undefined when none was given.
  at::Tensor ground_truth;
  std::string ground_truth_path;
};

/// How a flagged set compares with the ground truth.
struct AuditScore {
  int64_t poisoned = 0, clean = 0;
  int64_t true_positives = 0, false_positives = 0;
  double recall() const { return poisoned ? double(true_positives) / poisoned : 1.0; }
  double precision() const {
    return true_positives + false_positives ? double(true_positives) / (true_positives + false_positives) : 1.0;
  }
  double false_positive_rate() const { return clean ? double(false_positives) / clean : 0.0; }
};
AuditScore score_audit(const at::Tensor& flagged, const at::Tensor& truth, int64_t points);

/// audit.json: `flagged` (sorted indices into the data as configured), per detector its class
/// verdicts and per-point scores, the spec, the context, and with a ground truth the scores.
nlohmann::json audit_json(const AuditResult& result, const AuditSpec& spec,
                          const AuditContext& context);

/// Writes DIR/audit.json, audit.md and a self-contained audit.html (per-class score
/// histograms, the most suspicious images), each atomically. `images` ([N, C, H, W] in
/// [range_min, range_max]) and `labels` are the audited data.
void write_audit_reports(const std::string& dir, const AuditResult& result, const AuditSpec& spec,
                         const AuditContext& context, const at::Tensor& images,
                         const at::Tensor& labels, double range_min, double range_max);

}  // namespace rampart::defenses::poisoning
