#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "attacks/attack_ops.h"
#include "attacks/fgsm.h"
#include "attacks/pgd.h"
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

// The probe points: the first `sanity.points` clean-correct points, as indices into the data.
at::Tensor probe_indices(const EvalConfig& config, const at::Tensor& clean_correct) {
  return clean_correct.nonzero().flatten().slice(0, 0, config.sanity.points);
}

ProbeInput probe_input(const EvalConfig& config, models::Model& model,
                       const datasets::Dataset& data, const at::Tensor& clean_correct,
                       std::vector<bool> modes, const c10::Device& device) {
  ProbeInput in;
  in.model = &model;
  const at::Tensor idx = probe_indices(config, clean_correct);
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

// The first configured attack `name` at Linf `eps` (not a BPDA twin), or -1.
int64_t configured_at(const EvalConfig& config, const std::string& name, double eps) {
  for (std::size_t i = 0; i < config.attacks.size(); ++i) {
    const ConfiguredAttack& a = config.attacks[i];
    if (a.name == name && a.norm == attacks::Norm::kLinf && a.eps == eps && !a.bpda) {
      return static_cast<int64_t>(i);
    }
  }
  return -1;
}

// The verdicts (bool [P]) of `attack` on the probe points (bool [N] `probe`): reused from the
// configured run where it attacked them (`ran_on`), the rest attacked now, judged as the harness
// judges (run_attack).
at::Tensor probe_verdicts(const ConfiguredAttack& attack, const AttackRun* run,
                          const at::Tensor& ran_on, const at::Tensor& probe, models::Model& model,
                          const datasets::Dataset& data, const AttackRunSettings& settings) {
  const at::Tensor known = run ? ran_on.logical_and(probe) : at::zeros_like(probe);
  at::Tensor fooled = run ? run->outcome.success.logical_and(known) : at::zeros_like(probe);
  const at::Tensor missing = probe.logical_and(known.logical_not());
  if (missing.any().item<bool>()) {
    const AttackRun extra = run_attack(attack, model, data.images, data.labels, missing, settings);
    fooled.logical_or_(extra.outcome.success.logical_and(missing));
  }
  return fooled.masked_select(probe);
}

// PGD is not weaker than FGSM at the reference eps, on the probe points. The configured FGSM and
// PGD at that eps are reused where they ran (with the cascade, PGD ran only on FGSM's survivors,
// so it attacks the points FGSM fooled now, stopping per point once fooled); an attack that is
// not configured runs as FGSM or PGD-20 with early stop.
SanityCheck pgd_vs_fgsm(const EvalConfig& config, const ProbeInput& in, models::Model& model,
                        const datasets::Dataset& data, const at::Tensor& probe,
                        const std::vector<AttackRun>& runs, const std::vector<at::Tensor>& ran_on) {
  const double eps = in.reference_linf_eps;
  AttackRunSettings settings;
  settings.batch_size = config.data.batch_size;
  settings.device = c10::Device(config.device);
  settings.quiet = true;
  settings.randomised = config.randomised;
  const auto verdicts = [&](int64_t i, const ConfiguredAttack& fallback) {
    if (i < 0) return probe_verdicts(fallback, nullptr, probe, probe, model, data, settings);
    return probe_verdicts(config.attacks[i], &runs[i], ran_on[i], probe, model, data, settings);
  };
  const std::string tag = attacks::detail::format_eps(eps);
  ConfiguredAttack fgsm{std::make_shared<attacks::FGSM>(
                            attacks::FGSMOptions(eps).clip_min(in.clip_min).clip_max(in.clip_max)),
                        "fgsm", attacks::Norm::kLinf, eps, true, false, "fgsm-linf-" + tag,
                        "fgsm", false, ""};
  ConfiguredAttack pgd{std::make_shared<attacks::PGD>(attacks::PGDOptions(eps)
                                                          .steps(20)
                                                          .early_stop(true)
                                                          .seed(in.seed)
                                                          .stream(0x5a4e17ull)
                                                          .clip_min(in.clip_min)
                                                          .clip_max(in.clip_max)),
                       "pgd", attacks::Norm::kLinf, eps, true, true, "PGD-20", "pgd", false, ""};
  const int64_t configured_pgd = configured_at(config, "pgd", eps);
  const at::Tensor fgsm_fooled = verdicts(configured_at(config, "fgsm", eps), fgsm);
  const at::Tensor pgd_fooled = verdicts(configured_pgd, pgd);
  return pgd_vs_fgsm_check(fgsm_fooled, pgd_fooled, eps, config.sanity.tolerance,
                           configured_pgd < 0 ? "PGD-20" : config.attacks[configured_pgd].id);
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

CascadeMasks::CascadeMasks(bool cascade, at::Tensor clean_correct, at::Tensor labels)
    : cascade_(cascade), clean_correct_(std::move(clean_correct)), labels_(std::move(labels)) {}

at::Tensor CascadeMasks::mask(const ConfiguredAttack& attack) const {
  if (attack.backdoor_target >= 0) return clean_correct_.logical_and(labels_.ne(attack.backdoor_target));
  if (!cascade_ || !attack.bounded) return clean_correct_;
  const auto it = still_robust_.find(budget_key(attack.norm, attack.eps));
  return it == still_robust_.end() ? clean_correct_ : it->second;
}

at::Tensor CascadeMasks::record(const ConfiguredAttack& attack, const at::Tensor& success) {
  const at::Tensor attacked = attack.backdoor_target >= 0 ? clean_correct_ : mask(attack);
  const at::Tensor robust = attacked.logical_and(success.logical_not());
  if (cascade_ && attack.bounded) still_robust_[budget_key(attack.norm, attack.eps)] = robust;
  return robust;
}

Measurements measure(const EvalConfig& config, models::Model& model, const datasets::Dataset& data,
                     const datasets::Dataset* calibration, bool quiet, const MeasureScope& scope) {
  const int64_t end = scope.end < 0 ? data.size() : scope.end;
  if (scope.begin < 0 || scope.begin > end || end > data.size()) {
    throw std::invalid_argument("measure: the range [" + std::to_string(scope.begin) + ", " +
                                std::to_string(end) + ") is not within the " +
                                std::to_string(data.size()) + " points");
  }
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
  ProbeInput probe;
  if (scope.sanity_probes) {
    probe = probe_input(config, model, data, clean_correct, modes_as_loaded, device);
    out.probe = probe_checks(probe, config.sanity);
  }

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
  settings.randomised = config.randomised;
  at::Tensor in_scope = at::zeros_like(clean_correct);
  in_scope.slice(0, scope.begin, end).fill_(true);
  CascadeMasks masks(config.cascade, clean_correct.logical_and(in_scope), data.labels);
  std::vector<at::Tensor> ran_on;  // per attack: the points it attacked
  for (const auto& attack : config.attacks) {
    ran_on.push_back(masks.mask(attack));
    AttackRun run = run_attack(attack, model, data.images, data.labels, ran_on.back(), settings);
    masks.record(attack, run.outcome.success);
    out.example_predictions.push_back(
        run.example_indices.numel() == 0
            ? at::zeros({0}, at::kLong)
            : predict(model, run.example_adversarial, config.data.batch_size, device));
    out.attacks.push_back(std::move(run));
  }
  if (scope.sanity_probes && probe.x.size(0) > 0) {
    at::Tensor probe_mask = at::zeros_like(clean_correct);
    probe_mask.index_fill_(0, probe_indices(config, clean_correct), true);
    out.probe.push_back(
        pgd_vs_fgsm(config, probe, model, data, probe_mask, out.attacks, ran_on));
  }
  return out;
}

}  // namespace rampart::eval
