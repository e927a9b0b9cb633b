#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "eval/eval_config.h"
#include "eval/evaluation.h"
#include "eval/measurement.h"
#include "models/model.h"

namespace rampart::eval {

/// How `rampart eval` runs, beyond the config.
struct EvalOptions {
  bool quiet = false;   ///< no progress bars or info lines
  bool strict = false;  ///< flagged sanity checks fail the run (exit 1)
};

/// An evaluation and, when `report.save_adversarial` is on, the adversarial inputs per attack
/// id (float32 [N, C, H, W] on the CPU, the clean input where a point was not attacked).
struct EvalOutput {
  Evaluation evaluation;
  std::map<std::string, at::Tensor> adversarial;
};

/// Evaluates `model` on `data` as the config says: clean accuracy, the sanity probe, every
/// attack (only clean-correct points are attacked; with `cascade`, an attack attacks only the
/// points still robust to the earlier attacks at its budget), metrics, worst case per budget,
/// example images and gates. The model runs in eval mode without parameter gradients and is
/// restored afterwards. `provenance` is copied into the result (the run fills in timing).
///
/// Example:
///   auto out = eval::evaluate(config, model, data, {}, provenance);
///   std::cout << out.evaluation.clean_accuracy;
/// The detector (when configured) is calibrated on `calibration`, or on the data its config
/// names when that is null. The model runs in this process: for a model you trust (run_eval
/// runs a TorchScript model only in a sandboxed worker).
EvalOutput evaluate(const EvalConfig& config, models::Model& model, const datasets::Dataset& data,
                    const EvalOptions& options, const Provenance& provenance,
                    const datasets::Dataset* calibration = nullptr);

/// The half of an evaluation that needs no model: turns what eval::measure produced into the
/// evaluation (clean accuracy, cascade, metrics, worst case per budget, detection, example
/// images, sanity checks, gates). `calibration_source` names the detector's calibration data.
EvalOutput summarise(const EvalConfig& config, const datasets::Dataset& data,
                     Measurements measured, const EvalOptions& options,
                     const Provenance& provenance, const std::string& calibration_source);

/// The detector's calibration data as the config names it.
datasets::Dataset load_calibration(const EvalConfig& config);

/// How one process takes part in a distributed evaluation (distributed::evaluate_rank sets it
/// up): its rank among `world_size`, and the exchange that brings every rank's encoded
/// measurements (eval::encode_measurements) to rank 0.
struct EvalPart {
  int64_t rank = 0;
  int64_t world_size = 1;
  /// Sends this rank's bytes to rank 0; returns there every rank's, in rank order, and nothing
  /// on the other ranks.
  std::function<std::vector<std::string>(const std::string&)> gather;
};

/// The points rank `rank` of `world_size` measures: contiguous ranges of near-equal size in
/// rank order; rank 0 runs the sanity probes.
MeasureScope part_scope(int64_t points, int64_t rank, int64_t world_size);

/// `rampart eval` as one rank of a distributed evaluation: every rank reads the model (through
/// the intake) and the data, and measures its part (eval::part_scope); rank 0 reads the other
/// ranks' measurements as untrusted input (eval::decode_measurements), merges them
/// (eval::merge_measurements), summarises and writes the reports, and returns the evaluation.
/// The other ranks return nothing.
std::optional<Evaluation> run_eval_part(const EvalConfig& config, const EvalOptions& options,
                                        const EvalPart& part);

/// `rampart eval`: reads and checks the model files (through the intake) and the data the
/// config names, evaluates, and writes the report directory. A model with a TorchScript file
/// (code) is run only inside a confined worker process (eval::measure_in_sandbox); a built-in
/// architecture with its safetensors weights runs here. Returns the evaluation (exit_code() says 0/1).
Evaluation run_eval(const EvalConfig& config, const EvalOptions& options);

}  // namespace rampart::eval
