// rampart-eval-worker: runs the model half of an evaluation (eval::measure) for
// eval::measure_in_sandbox, confined. Its descriptor 3 is the pipe back to Rampart, 4 the
// sealed memory file with the job. Nothing here trusts the model: it is deserialized only
// after security::confine_process, and every answer is checked again by the parent.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>

#include "core/heap_tuning.h"
#include "core/runtime.h"
#include "defenses/defended_model.h"
#include "defenses/transformed_model.h"
#include "eval/measurement.h"
#include "eval/worker_frames.h"
#include "eval/worker_protocol.h"
#include "security/model_behaviour.h"
#include "security/process_sandbox.h"
#include "security/sandbox_probe.h"
#include "security/sealed_memory.h"
#include "security/worker_process.h"

namespace rampart::eval {
namespace {

using security::kWorkerOutput;

// The model as measure() sees it, writing a heartbeat frame after each call (at most every
// 50 ms): the parent's per-call time limit counts from the last one.
class HeartbeatModel : public models::Model {
 public:
  explicit HeartbeatModel(models::Model& inner) : inner_(inner) {}
  at::Tensor forward(const at::Tensor& x) override { return beat(inner_.forward(x)); }
  at::Tensor predict(const at::Tensor& x) override { return beat(inner_.predict(x)); }
  bool predicts_by_argmax() const override { return inner_.predicts_by_argmax(); }
  bool is_training() const override { return inner_.is_training(); }
  void set_training(bool training) override { inner_.set_training(training); }
  std::vector<at::Tensor> parameters() override { return inner_.parameters(); }
  std::string describe() const override { return inner_.describe(); }
  std::vector<bool> module_modes() const override { return inner_.module_modes(); }
  void set_module_modes(const std::vector<bool>& modes) override {
    inner_.set_module_modes(modes);
  }
  models::Model* straight_through() override {
    if (!view_) {
      models::Model* inner = inner_.straight_through();
      if (inner == nullptr) return nullptr;
      view_ = std::make_unique<HeartbeatModel>(*inner);
    }
    return view_.get();
  }

 private:
  at::Tensor beat(at::Tensor out) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ >= std::chrono::milliseconds(50)) {
      security::write_frame(kWorkerOutput, kWorkerHeartbeat, "");
      last_ = now;
    }
    return out;
  }
  models::Model& inner_;
  std::unique_ptr<HeartbeatModel> view_;
  std::chrono::steady_clock::time_point last_{};
};

[[noreturn]] void fail(const std::string& kind, const std::string& message) {
  security::write_frame(kWorkerOutput, kWorkerFailure, kind + "\n" + message);
  _exit(0);
}

// Point 5 of the intake: the behavioural checks again, on the first points of the data being
// evaluated (the probe only had zeros and noise), in eval mode as the attacks will run it.
// `model` is the model as the attacks see it, `file_model` the defended model as built.
void check_real_batch(models::Model& model, models::Model& file_model, const EvalConfig& config,
                      const datasets::Dataset& data) {
  const int64_t count = std::min<int64_t>(8, data.size());
  if (count == 0) return;
  models::AttackModeGuard guard(model);
  const at::Tensor batch = data.images.narrow(0, 0, count).to(c10::Device(config.device));
  // A configured randomised transform (gaussian_noise) is the user's declared defense; the
  // model file behind it must still be deterministic.
  auto* transformed = dynamic_cast<defenses::TransformedModel*>(&file_model);
  models::Model& checked = transformed && transformed->is_random() ? transformed->inner() : model;
  std::string problem = security::check_behaviour_on(
      [&checked](const at::Tensor& x) { return checked.forward(x); }, batch);
  if (problem.empty()) {
    at::NoGradGuard no_grad;
    const int64_t classes = model.forward(batch).size(1);
    if (classes != config.model.num_classes) {
      problem = "the model returns " + std::to_string(classes) + " logits, not " +
                std::to_string(config.model.num_classes) + " (model.num_classes)";
    }
  }
  if (!problem.empty()) {
    fail("behaviour", "the behavioural checks on a batch of the evaluated data failed: " + problem);
  }
}

[[noreturn]] void run() {
  std::optional<WorkerJob> job;
  {
    const security::MappedMemory memory(security::kWorkerFirstInput);
    job = decode_job(memory.bytes());
  }
  close(security::kWorkerFirstInput);
  const EvalConfig config =
      parse_eval_config(core::parse_config(job->config_yaml, job->config_name));
  // Before confinement, while /proc and /sys can be read: the thread pool (cpuinfo), a first
  // parallel region, and the default generator (seeded from /dev/urandom on first use).
  core::set_threads(job->threads);
  (void)at::ones({1 << 16}).sum().item<float>();
  at::detail::getDefaultCPUGenerator();
  security::SandboxLimits limits;
  limits.memory_bytes = job->memory_bytes;
  limits.cpu_seconds = 0;  // a long evaluation is legitimate: the parent times each call
  limits.keep_descriptors = {kWorkerOutput};
  if (!security::confine_process(limits)) {
    fail("sandbox", "the sandbox (descriptors, limits, Landlock, seccomp) could not be set up");
  }

  // From here on the model's code may run.
  std::shared_ptr<models::Model> model;
  try {
    model = defenses::build_defended_model(config.model, job->files, c10::Device(config.device));
  } catch (const std::exception& e) {
    const std::string cause = security::exception_cause(e);
    fail(security::is_out_of_memory(cause) ? "memory" : "load", "loading the model failed: " + cause);
  }
  security::write_frame(kWorkerOutput, kWorkerHeartbeat, "");
  HeartbeatModel watched(*model);
  try {
    check_real_batch(watched, *model, config, job->data);
    core::seed_everything(config.seed);
    const Measurements measured =
        measure(config, watched, job->data, job->calibration ? &*job->calibration : nullptr,
                /*quiet=*/true, job->scope);
    security::write_frame(kWorkerOutput, kWorkerResult, encode_measurements(measured));
  } catch (const std::exception& e) {
    const std::string cause = security::exception_cause(e);
    fail(security::is_out_of_memory(cause) ? "memory" : "run", "the evaluation failed: " + cause);
  }
  _exit(0);
}

}  // namespace
}  // namespace rampart::eval

int main() {
  rampart::core::tune_heap_for_tensors();
  try {
    rampart::eval::run();
  } catch (const std::bad_alloc&) {
    rampart::eval::fail("memory", "out of memory");
  } catch (const std::exception& e) {
    rampart::eval::fail("worker", e.what());
  }
  return 70;
}
