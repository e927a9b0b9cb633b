#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "eval/measurement.h"
#include "eval/example_images.h"
#include "eval/metrics.h"

namespace rampart::eval {
namespace {

// Predicted classes of `images` (CPU) in batches, as int64 [N] on the CPU.
at::Tensor predict(models::Model& model, const at::Tensor& images, int64_t batch_size,
                   const c10::Device& device) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const at::Tensor x = images.slice(0, start, start + batch_size).to(device);
    parts.push_back(model.predict(x).cpu());
  }
  return parts.empty() ? at::zeros({0}, at::kLong) : at::cat(parts);
}

double fraction(const at::Tensor& flags) {
  return flags.numel() == 0 ? 0.0 : flags.to(at::kDouble).mean().item<double>();
}

ProbeInput probe_input(const EvalConfig& config, models::Model& model,
                       const datasets::Dataset& data, const at::Tensor& clean_correct,
                       std::vector<bool> modes, const c10::Device& device) {
  ProbeInput in;
  in.model = &model;
  const at::Tensor idx = clean_correct.nonzero().flatten().slice(0, 0, config.sanity.points);
  in.x = data.images.index_select(0, idx).to(device);
  in.labels = data.labels.index_select(0, idx).to(device);
  in.modes_as_loaded = std::move(modes);
  in.clip_min = config.model.input.range_min;
  in.clip_max = config.model.input.range_max;
  in.batch_size = config.data.batch_size;
  in.seed = config.seed;
  in.reference_linf_eps = 0;
  for (const auto& a : config.attacks) {
    if (a.bounded && a.norm == attacks::Norm::kLinf && a.eps > 0 &&
        (in.reference_linf_eps == 0 || a.eps < in.reference_linf_eps)) {
      in.reference_linf_eps = a.eps;
    }
  }
  if (in.reference_linf_eps == 0) in.reference_linf_eps = 0.03 * (in.clip_max - in.clip_min);
  return in;
}

// Calibrates the detector on the held-out clean data and flags the evaluated clean points.
std::optional<defenses::FeatureSqueezingDetector> make_detector(
    const EvalConfig& config, models::Model& model, const datasets::Dataset& data,
    const datasets::Dataset& calibration, DetectorMeasurement& out) {
  std::vector<defenses::InputTransform> squeezers;
  for (const auto& s : config.detector->squeezers) {
    squeezers.emplace_back(s, config.model.input.range_min, config.model.input.range_max);
  }
  defenses::FeatureSqueezingDetector detector(std::move(squeezers));
  const c10::Device device(config.device);
  const at::Tensor scores =
      detector.score(model, calibration.images, config.data.batch_size, device);
  detector.set_threshold(defenses::threshold_for_fpr(scores, config.detector->fpr));
  out.description = detector.describe();
  out.threshold = detector.threshold();
  out.calibration_points = calibration.size();
  out.calibration_fpr = fraction(scores.gt(detector.threshold()));
  out.clean_flagged = detector.flag(model, data.images, config.data.batch_size, device);
  return detector;
}

}  // namespace

CascadeMasks::CascadeMasks(bool cascade, at::Tensor clean_correct)
    : cascade_(cascade), clean_correct_(std::move(clean_correct)) {}

at::Tensor CascadeMasks::mask(const ConfiguredAttack& attack) const {
  if (!cascade_ || !attack.bounded) return clean_correct_;
  const auto it = still_robust_.find(budget_key(attack.norm, attack.eps));
  return it == still_robust_.end() ? clean_correct_ : it->second;
}

at::Tensor CascadeMasks::record(const ConfiguredAttack& attack, const at::Tensor& success) {
  const at::Tensor robust = mask(attack).logical_and(success.logical_not());
  if (cascade_ && attack.bounded) still_robust_[budget_key(attack.norm, attack.eps)] = robust;
  return robust;
}

Measurements measure(const EvalConfig& config, models::Model& model, const datasets::Dataset& data,
                     const datasets::Dataset* calibration, bool quiet) {
  const c10::Device device(config.device);
  const std::vector<bool> modes_as_loaded = model.module_modes();
  models::AttackModeGuard guard(model);

  Measurements out;
  out.model_description = model.describe();
  out.clean_predictions = predict(model, data.images, config.data.batch_size, device);
  const at::Tensor clean_correct = out.clean_predictions.eq(data.labels);
  if (!quiet) {
    spdlog::info("clean accuracy {:.2f}% ({} of {} points)", fraction(clean_correct) * 100.0,
                 clean_correct.sum().item<int64_t>(), data.size());
  }
  out.probe = probe_checks(probe_input(config, model, data, clean_correct, modes_as_loaded, device),
                           config.sanity);

  std::optional<defenses::FeatureSqueezingDetector> detector;
  if (config.detector) {
    if (calibration == nullptr) {
      throw std::invalid_argument("measure: the detector needs its calibration data");
    }
    out.detector.emplace();
    detector = make_detector(config, model, data, *calibration, *out.detector);
  }

  AttackRunSettings settings;
  settings.detector = detector ? &*detector : nullptr;
  settings.batch_size = config.data.batch_size;
  settings.device = device;
  settings.keep_adversarial = config.report.save_adversarial;
  settings.examples = example_images_unavailable().empty() ? config.report.examples : 0;
  settings.quiet = quiet;
  CascadeMasks masks(config.cascade, clean_correct);
  for (const auto& attack : config.attacks) {
    AttackRun run =
        run_attack(attack, model, data.images, data.labels, masks.mask(attack), settings);
    masks.record(attack, run.outcome.success);
    out.example_predictions.push_back(
        run.example_indices.numel() == 0
            ? at::zeros({0}, at::kLong)
            : predict(model, run.example_adversarial, config.data.batch_size, device));
    out.attacks.push_back(std::move(run));
  }
  return out;
}

}  // namespace rampart::eval
