#include "eval/runner.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <optional>

#include "core/runtime.h"
#include "core/version.h"
#include "datasets/dataset_spec.h"
#include "defenses/defended_model.h"
#include "eval/attack_runner.h"
#include "eval/example_images.h"
#include "eval/report_writer.h"
#include "security/model_intake.h"

namespace rampart::eval {
namespace {

double fraction(const at::Tensor& flags) {
  return flags.numel() == 0 ? 0.0 : flags.to(at::kDouble).mean().item<double>();
}

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

std::vector<std::string> class_names(const datasets::Dataset& data) {
  if (static_cast<int64_t>(data.class_names.size()) == data.num_classes) return data.class_names;
  std::vector<std::string> names;
  for (int64_t c = 0; c < data.num_classes; ++c) names.push_back(std::to_string(c));
  return names;
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

void add_examples(Evaluation& ev, const AttackRun& run, models::Model& model,
                  const datasets::Dataset& data, const EvalConfig& config,
                  const c10::Device& device) {
  if (!ev.examples_unavailable.empty() || run.example_indices.numel() == 0) return;
  const at::Tensor clean = data.images.index_select(0, run.example_indices);
  const at::Tensor labels = data.labels.index_select(0, run.example_indices);
  const at::Tensor adv_pred =
      predict(model, run.example_adversarial, config.data.batch_size, device);
  std::vector<std::string> truth, predicted;
  for (int64_t i = 0; i < labels.numel(); ++i) {
    truth.push_back(ev.class_names.at(labels[i].item<int64_t>()));
    predicted.push_back(ev.class_names.at(adv_pred[i].item<int64_t>()));
  }
  ev.examples.push_back(render_example_grid(run.outcome.id, clean, run.example_adversarial, truth,
                                            predicted, config.model.input.range_min,
                                            config.model.input.range_max));
}

void add_budgets(Evaluation& ev, const std::vector<AttackOutcome>& outcomes,
                 const at::Tensor& labels) {
  const auto worst = worst_case(outcomes);
  for (const auto& o : outcomes) {
    if (!o.bounded) continue;
    const std::string key = budget_key(o.norm, o.eps);
    auto it = std::find_if(ev.budgets.begin(), ev.budgets.end(),
                           [&](const BudgetReport& b) { return b.key == key; });
    if (it == ev.budgets.end()) {
      BudgetReport b;
      b.key = key;
      b.norm = o.norm;
      b.eps = o.eps;
      b.robust_accuracy = fraction(worst.at(key));
      b.per_class_robust_accuracy = per_class_accuracy(worst.at(key), labels, ev.num_classes);
      ev.budgets.push_back(b);
      it = ev.budgets.end() - 1;
    }
    it->attacks.push_back(o.id);
  }
  for (const auto& b : ev.budgets) {
    ev.worst_robust_accuracy = ev.worst_robust_accuracy
                                   ? std::min(*ev.worst_robust_accuracy, b.robust_accuracy)
                                   : b.robust_accuracy;
  }
}

// Calibrates the detector on the held-out clean data and measures its false-positive rate on
// the evaluated clean points.
std::optional<defenses::FeatureSqueezingDetector> make_detector(const EvalConfig& config,
                                                                models::Model& model,
                                                                const datasets::Dataset& data,
                                                                Evaluation& ev, bool quiet) {
  if (!config.detector) return std::nullopt;
  const DetectorSpec& spec = *config.detector;
  std::vector<defenses::InputTransform> squeezers;
  for (const auto& s : spec.squeezers) {
    squeezers.emplace_back(s, config.model.input.range_min, config.model.input.range_max);
  }
  defenses::FeatureSqueezingDetector detector(std::move(squeezers));
  const datasets::Dataset calibration =
      datasets::load_dataset(spec.calibration, config.model.num_classes, config.model.input.shape);
  const c10::Device device(config.device);
  const at::Tensor scores =
      detector.score(model, calibration.images, config.data.batch_size, device);
  detector.set_threshold(defenses::threshold_for_fpr(scores, spec.fpr));
  DetectionReport report;
  report.description = detector.describe();
  report.target_fpr = spec.fpr;
  report.threshold = detector.threshold();
  report.calibration_source = calibration.source;
  report.calibration_points = calibration.size();
  report.calibration_fpr = fraction(scores.gt(detector.threshold()));
  report.fpr = fraction(detector.flag(model, data.images, config.data.batch_size, device));
  if (!quiet) {
    spdlog::info(
        "detector {}: threshold {:.4g} for {:.1f}% false positives on {} calibration "
        "points; {:.1f}% of the evaluated clean points flagged",
        report.description, report.threshold, spec.fpr * 100.0, report.calibration_points,
        report.fpr * 100.0);
  }
  ev.detection = report;
  return detector;
}

AttackDetection attack_detection(const AttackRun& run, const at::Tensor& clean_correct) {
  AttackDetection d;
  d.attack_id = run.outcome.id;
  const at::Tensor fooled = run.outcome.success;
  d.successful = fooled.sum().item<int64_t>();
  d.detected_successful = fooled.logical_and(run.detected).sum().item<int64_t>();
  d.detection_rate = d.successful == 0 ? 0.0
                                       : static_cast<double>(d.detected_successful) /
                                             static_cast<double>(d.successful);
  d.robust_or_detected = fraction(
      run.outcome.robust.logical_or(clean_correct.logical_and(fooled).logical_and(run.detected)));
  return d;
}

std::map<std::string, double> gate_values(const Evaluation& ev) {
  std::map<std::string, double> values{{"clean", ev.clean_accuracy}};
  for (const auto& a : ev.attacks) values[a.metrics.id] = a.metrics.robust_accuracy;
  for (const auto& b : ev.budgets) values["worst:" + b.key] = b.robust_accuracy;
  return values;
}

}  // namespace

EvalOutput evaluate(const EvalConfig& config, models::Model& model, const datasets::Dataset& data,
                    const EvalOptions& options, const Provenance& provenance) {
  const auto start = std::chrono::steady_clock::now();
  const c10::Device device(config.device);
  const std::vector<bool> modes_as_loaded = model.module_modes();
  models::AttackModeGuard guard(model);

  EvalOutput out;
  Evaluation& ev = out.evaluation;
  ev.provenance = provenance;
  ev.strict = options.strict;
  ev.cascade = config.cascade;
  ev.num_points = data.size();
  ev.num_classes = data.num_classes;
  ev.class_names = class_names(data);
  const at::Tensor counts = at::bincount(data.labels, {}, data.num_classes);
  for (int64_t c = 0; c < data.num_classes; ++c)
    ev.class_counts.push_back(counts[c].item<int64_t>());
  ev.examples_unavailable = config.report.examples > 0 ? example_images_unavailable() : "";

  const at::Tensor clean_pred = predict(model, data.images, config.data.batch_size, device);
  const at::Tensor clean_correct = clean_pred.eq(data.labels);
  ev.clean_accuracy = fraction(clean_correct);
  ev.clean_correct = clean_correct.sum().item<int64_t>();
  ev.per_class_clean_accuracy = per_class_accuracy(clean_correct, data.labels, ev.num_classes);
  if (!options.quiet) {
    spdlog::info("clean accuracy {:.2f}% ({} of {} points)", ev.clean_accuracy * 100.0,
                 ev.clean_correct, ev.num_points);
  }

  ev.sanity = probe_checks(probe_input(config, model, data, clean_correct, modes_as_loaded, device),
                           config.sanity);

  const std::optional<defenses::FeatureSqueezingDetector> detector =
      make_detector(config, model, data, ev, options.quiet);

  AttackRunSettings settings;
  settings.detector = detector ? &*detector : nullptr;
  settings.batch_size = config.data.batch_size;
  settings.device = device;
  settings.keep_adversarial = config.report.save_adversarial;
  settings.examples = ev.examples_unavailable.empty() ? config.report.examples : 0;
  settings.quiet = options.quiet;
  std::map<std::string, at::Tensor> still_robust;           // budget -> bool [N] (cascade)
  std::map<std::string, std::vector<std::string>> earlier;  // budget -> attack ids run so far
  std::vector<AttackOutcome> outcomes;
  for (const auto& attack : config.attacks) {
    const std::string key = attack.bounded ? budget_key(attack.norm, attack.eps) : "";
    at::Tensor mask = clean_correct;
    if (config.cascade && attack.bounded) {
      mask = still_robust.emplace(key, clean_correct).first->second;
    }
    AttackRun run = run_attack(attack, model, data.images, data.labels, mask, settings);
    run.outcome.robust = mask.logical_and(run.outcome.success.logical_not());
    if (config.cascade && attack.bounded) still_robust[key] = run.outcome.robust;

    AttackReport report;
    report.metrics = attack_metrics(run.outcome, clean_correct, data.labels, ev.num_classes);
    report.name = attack.name;
    report.family = attack.family;
    report.norm = attack.norm;
    report.eps = attack.eps;
    report.bounded = attack.bounded;
    report.bpda = attack.bpda;
    report.attacked = run.attacked;
    if (config.cascade && attack.bounded) report.after = earlier[key];
    if (attack.bounded) earlier[key].push_back(run.outcome.id);
    report.seconds = run.outcome.seconds;
    report.forward_samples = run.outcome.forward_samples;
    report.backward_samples = run.outcome.backward_samples;
    ev.attacks.push_back(report);
    if (detector) ev.detection->attacks.push_back(attack_detection(run, clean_correct));
    add_examples(ev, run, model, data, config, device);
    if (run.adversarial.defined()) out.adversarial[run.outcome.id] = run.adversarial;
    outcomes.push_back(std::move(run.outcome));
  }
  add_budgets(ev, outcomes, data.labels);
  const auto curve_checks = eps_monotonic_checks(robustness_curve(ev), config.sanity.tolerance);
  ev.sanity.insert(ev.sanity.begin(), curve_checks.begin(), curve_checks.end());
  ev.gates = check_gates(config.gates, gate_values(ev));
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

Evaluation run_eval(const EvalConfig& config, const EvalOptions& options) {
  Provenance provenance;
  provenance.rampart_version = kVersion;
  provenance.libtorch_version = TORCH_VERSION;
  provenance.device = config.device;
  provenance.threads = core::set_threads(config.threads);
  provenance.seed = config.seed;
  core::seed_everything(config.seed);
  provenance.config_file = config.source;
  provenance.config_sha256 = config.config_hash;
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &utc);
  provenance.started_at = stamp;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) provenance.hostname = host;

  const models::LoadedModel loaded =
      defenses::load_defended_model(config.model, c10::Device(config.device));
  provenance.model_path = loaded.path;
  provenance.model_sha256 = loaded.sha256;
  provenance.model_bytes = loaded.bytes;
  provenance.model_description = loaded.model->describe();
  for (const auto& f : loaded.files) {
    provenance.model_files.push_back(f);
    if (f.verified_by.empty()) {
      spdlog::warn("{}: model file accepted unpinned (security.allow_unpinned); the report says so",
                   f.path);
    }
  }
  const datasets::Dataset data =
      datasets::load_dataset(config.data, config.model.num_classes, config.model.input.shape);
  provenance.data_source = data.source;
  for (const auto& file : datasets::dataset_files(config.data)) {
    provenance.data_files.emplace_back(file, security::sha256_file(file));
  }
  if (!options.quiet) {
    spdlog::info("model {} ({}), data {} ({} points), {} attacks, {} threads on {}",
                 provenance.model_path, provenance.model_description, data.source, data.size(),
                 config.attacks.size(), provenance.threads, config.device);
  }
  EvalOutput out = evaluate(config, *loaded.model, data, options, provenance);
  write_reports(config.report, out);
  return out.evaluation;
}

}  // namespace rampart::eval
