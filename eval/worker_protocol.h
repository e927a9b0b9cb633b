#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/dataset.h"
#include "eval/eval_config.h"
#include "eval/measurement.h"
#include "security/model_intake.h"

namespace rampart::eval {

/// What `rampart eval` hands its sandboxed worker, in one sealed memory file: the effective
/// config (as YAML, re-parsed by the worker), the admitted model files' bytes, the data and
/// the detector's calibration data, and the limits the worker runs under.
struct WorkerJob {
  std::string config_yaml;  ///< EvalConfig::effective_yaml
  std::string config_name;  ///< EvalConfig::source
  std::vector<security::ModelFile> files;
  datasets::Dataset data;
  std::optional<datasets::Dataset> calibration;
  int64_t memory_bytes = 0;  ///< address space the worker may add once confined
  int64_t threads = 0;       ///< intra-op threads, as the parent resolved them
  MeasureScope scope;        ///< the part of the evaluation to measure (all of it by default)
};

/// The job as bytes (CBOR; tensors and file bytes as binary strings).
std::string encode_job(const WorkerJob& job);
/// Reads a job; throws std::runtime_error when it is not one (the worker exits with it).
WorkerJob decode_job(std::string_view bytes);

/// What the worker sends back, as bytes (CBOR): the measurements, tensors as binary strings.
std::string encode_measurements(const Measurements& measured);

/// Reads the worker's answer as the parent must: as untrusted input. Every tensor must have
/// exactly the dtype and shape that `config` and the data imply (N points, the input shape,
/// labels in [0, num_classes)), strings are escaped and capped, sanity checks must be known
/// ones, numbers finite and in range. Each attack's id, norm, eps and bounded flag come from the
/// config, not from the answer. Throws ModelRejected (exit 3) naming the first bad field.
Measurements decode_measurements(std::string_view bytes, const EvalConfig& config,
                                 const datasets::Dataset& data,
                                 const datasets::Dataset* calibration);

}  // namespace rampart::eval
