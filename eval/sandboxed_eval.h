#pragma once

#include <string>

#include "datasets/dataset.h"
#include "eval/eval_config.h"
#include "eval/measurement.h"
#include "eval/runner.h"
#include "models/load_model.h"

namespace rampart::eval {

/// eval::measure, with the model run only inside a confined worker process: the way
/// `rampart eval` runs a model that contains code (a TorchScript file, alone or as an ensemble
/// member). The steps:
/// 1. the effective config, the admitted model files' bytes and the data go into one sealed
///    memory file (security::SealedMemory);
/// 2. the worker program (`rampart-eval-worker`, eval_worker_path) starts from a fresh image,
///    maps that memory, sets up its threads, and confines itself for good
///    (security::confine_process: no file system, no network, no new processes, RLIMIT_AS at
///    its size plus `security.sandbox.memory_mib`; its pipe back is its one descriptor);
/// 3. only then does it deserialize the model and run eval::measure, writing a heartbeat frame
///    after each model call and the measurements as its last frame;
/// 4. Rampart reads them as untrusted input (eval::decode_measurements).
/// A worker that goes `security.sandbox.call_seconds` without a heartbeat is killed. A timeout,
/// an exhausted memory limit, a crash, a forbidden system call, a failed load or a malformed
/// answer throws ModelRejected (exit 3) naming the model file(s) and the cause.
Measurements measure_in_sandbox(const EvalConfig& config, const models::AdmittedModel& admitted,
                                const datasets::Dataset& data,
                                const datasets::Dataset* calibration, const EvalOptions& options,
                                const MeasureScope& scope = {});

/// The worker program: $RAMPART_EVAL_WORKER when set, else `rampart-eval-worker` next to the
/// running executable, else the one this build made. Throws ConfigError when none exists.
std::string eval_worker_path();

}  // namespace rampart::eval
