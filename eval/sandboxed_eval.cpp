#include "eval/sandboxed_eval.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include <ATen/Parallel.h>
#include "eval/worker_frames.h"
#include "eval/worker_protocol.h"
#include "security/sandbox_probe.h"
#include "security/sealed_memory.h"
#include "security/worker_process.h"

namespace rampart::eval {
namespace {

bool executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// An upper bound on the answer's size: every tensor the config asks for, with room for CBOR.
uint64_t answer_limit(const EvalConfig& config, const datasets::Dataset& data) {
  const uint64_t n = static_cast<uint64_t>(data.size());
  const uint64_t point = n == 0 ? 0 : static_cast<uint64_t>(data.images.numel()) / n * 4;
  const uint64_t examples = static_cast<uint64_t>(std::max<int64_t>(config.report.examples, 0));
  uint64_t per_attack = n * 11 + examples * (point + 16) + 4096;
  if (config.report.save_adversarial) per_attack += n * point;
  return (uint64_t{1} << 20) + n * 9 + per_attack * config.attacks.size() +
         per_attack / 4 * config.attacks.size();
}

}  // namespace

std::string eval_worker_path() {
  if (const char* env = std::getenv("RAMPART_EVAL_WORKER"); env != nullptr && *env != '\0') {
    if (!executable(env)) {
      throw ConfigError(std::string("RAMPART_EVAL_WORKER: ") + env + " is not an executable");
    }
    return env;
  }
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::string beside = (self.parent_path() / "rampart-eval-worker").string();
    if (executable(beside)) return beside;
  }
  if (executable(RAMPART_EVAL_WORKER_BUILT)) return RAMPART_EVAL_WORKER_BUILT;
  throw ConfigError(
      "the sandboxed evaluation worker 'rampart-eval-worker' was not found next to this program "
      "nor at " RAMPART_EVAL_WORKER_BUILT " (set RAMPART_EVAL_WORKER to its path)");
}

Measurements measure_in_sandbox(const EvalConfig& config, const models::AdmittedModel& admitted,
                                const datasets::Dataset& data,
                                const datasets::Dataset* calibration,
                                const EvalOptions& options, const MeasureScope& scope) {
  if (config.effective_yaml.empty()) {
    throw std::invalid_argument("measure_in_sandbox: the config has no effective YAML");
  }
  const security::WorkerLimits& limits = config.model.intake.policy.worker;
  WorkerJob job;
  job.config_yaml = config.effective_yaml;
  job.config_name = config.source;
  job.files = admitted.files;
  job.data = data;
  if (calibration) job.calibration = *calibration;
  job.memory_bytes = limits.memory_bytes;
  job.threads = at::get_num_threads();
  job.scope = scope;
  const std::string who = admitted.path;
  std::optional<security::SealedMemory> memory;
  memory.emplace("rampart-eval-job", encode_job(job));
  job = WorkerJob();
  const security::WorkerProcess worker = security::spawn_worker(eval_worker_path(), {}, {memory->fd()});
  memory.reset();  // the worker holds its own descriptor

  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%g", limits.call_seconds);
  const uint64_t limit = answer_limit(config, data);
  security::Frame frame;
  for (;;) {
    const security::FrameStatus status =
        security::read_frame(worker.from_worker, limits.call_seconds, limit, frame);
    if (status == security::FrameStatus::kFrame && frame.kind == kWorkerHeartbeat &&
        frame.payload.empty()) {
      continue;  // a heartbeat carries nothing; one that does is malformed below
    }
    close(worker.from_worker);
    const int ended = security::reap_worker(
        worker.pid, status != security::FrameStatus::kClosed &&
                        !(status == security::FrameStatus::kFrame && frame.kind == kWorkerResult));
    switch (status) {
      case security::FrameStatus::kTimedOut:
        throw ModelRejected(who + ": the model did not finish a call within " + seconds +
                            " s (security.sandbox.call_seconds); the evaluation worker was stopped");
      case security::FrameStatus::kMalformed:
        throw ModelRejected(who + ": the evaluation worker sent a malformed frame");
      case security::FrameStatus::kClosed: {
        const std::string why = security::termination_reason(ended, "the evaluation worker");
        throw ModelRejected(who + ": " +
                            (why.empty() ? "the evaluation worker ended without an answer" : why));
      }
      case security::FrameStatus::kFrame:
        break;
    }
    if (frame.kind == kWorkerFailure) {
      const std::size_t cut = frame.payload.find('\n');
      const std::string kind = frame.payload.substr(0, cut);
      const std::string message = security::escape_untrusted(
          cut == std::string::npos ? "" : frame.payload.substr(cut + 1, 2000));
      if (kind == "memory") {
        throw ModelRejected(who + ": the model exceeded the evaluation worker's memory limit (" +
                            std::to_string(limits.memory_bytes >> 20) +
                            " MiB, security.sandbox.memory_mib): " + message);
      }
      throw ModelRejected(who + ": in the sandboxed evaluation worker: " + message);
    }
    if (frame.kind != kWorkerResult) {
      throw ModelRejected(who + ": the evaluation worker sent an unknown frame");
    }
    const std::string why = security::termination_reason(ended, "the evaluation worker");
    if (!why.empty()) throw ModelRejected(who + ": " + why);
    Measurements measured = decode_measurements(frame.payload, config, data, calibration);
    if (!options.quiet) {
      const at::Tensor correct = measured.clean_predictions.eq(data.labels);
      spdlog::info("clean accuracy {:.2f}% ({} of {} points), measured in the sandboxed worker",
                   data.size() ? correct.to(at::kDouble).mean().item<double>() * 100.0 : 0.0,
                   correct.sum().item<int64_t>(), data.size());
    }
    return measured;
  }
}

}  // namespace rampart::eval
