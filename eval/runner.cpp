#include "eval/runner.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <optional>
#include <unordered_set>

#include "attacks/backdoor_attack.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/runtime.h"
#include "core/version.h"
#include "datasets/dataset_spec.h"
#include "datasets/manifest.h"
#include "defenses/defended_model.h"
#include "eval/attack_runner.h"
#include "eval/example_images.h"
#include "eval/report_writer.h"
#include "eval/sandboxed_eval.h"
#include "eval/worker_protocol.h"
#include "security/model_intake.h"
#include "eval/measurement.h"

namespace rampart::eval {
namespace {

double fraction(const at::Tensor& flags) {
  return flags.numel() == 0 ? 0.0 : flags.to(at::kDouble).mean().item<double>();
}

std::vector<std::string> class_names(const datasets::Dataset& data) {
  if (static_cast<int64_t>(data.class_names.size()) == data.num_classes) return data.class_names;
  std::vector<std::string> names;
  for (int64_t c = 0; c < data.num_classes; ++c) names.push_back(std::to_string(c));
  return names;
}

void add_examples(Evaluation& ev, const AttackRun& run, const at::Tensor& predictions,
                  const datasets::Dataset& data, const EvalConfig& config) {
  if (!ev.examples_unavailable.empty() || run.example_indices.numel() == 0) return;
  const at::Tensor clean = data.images.index_select(0, run.example_indices);
  const at::Tensor labels = data.labels.index_select(0, run.example_indices);
  std::vector<std::string> truth, predicted;
  for (int64_t i = 0; i < labels.numel(); ++i) {
    truth.push_back(ev.class_names.at(labels[i].item<int64_t>()));
    predicted.push_back(ev.class_names.at(predictions[i].item<int64_t>()));
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

DetectionReport detection_report(const EvalConfig& config, const DetectorMeasurement& m,
                                 const std::string& calibration_source, bool quiet) {
  DetectionReport report;
  report.description = m.description;
  report.target_fpr = config.detector->fpr;
  report.threshold = m.threshold;
  report.calibration_source = calibration_source;
  report.calibration_points = m.calibration_points;
  report.calibration_fpr = m.calibration_fpr;
  report.fpr = fraction(m.clean_flagged);
  if (!quiet) {
    spdlog::info(
        "detector {}: threshold {:.4g} for {:.1f}% false positives on {} calibration "
        "points; {:.1f}% of the evaluated clean points flagged",
        report.description, report.threshold, report.target_fpr * 100.0,
        report.calibration_points, report.fpr * 100.0);
  }
  return report;
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
  for (const auto& a : ev.attacks) {
    values[a.metrics.id] = a.metrics.robust_accuracy;
    values["median_l2:" + a.metrics.id] = a.metrics.median_l2;
    // Of no attacked point (a backdoor whose model gets no point of the other classes right
    // without the trigger) the rate is unknown: NaN, which fails every bound of a gate.
    double rate = a.attacked > 0 ? a.metrics.success_rate : std::numeric_limits<double>::quiet_NaN();
    // A cascaded attack ran only on the points the earlier attacks of its budget left robust:
    // its own rate leaves out every point they fooled. Its gate reads the cumulative rate (the
    // clean-correct points it and they fooled), as its robust-accuracy gate does.
    if (!a.after.empty()) {
      const auto robust = static_cast<int64_t>(
          std::llround(a.metrics.robust_accuracy * static_cast<double>(ev.num_points)));
      rate = ev.clean_correct > 0 ? static_cast<double>(ev.clean_correct - robust) /
                                        static_cast<double>(ev.clean_correct)
                                  : std::numeric_limits<double>::quiet_NaN();
    }
    values["success_rate:" + a.metrics.id] = rate;
  }
  for (const auto& b : ev.budgets) values["worst:" + b.key] = b.robust_accuracy;
  return values;
}

}  // namespace

EvalOutput summarise(const EvalConfig& config, const datasets::Dataset& data,
                     Measurements measured, const EvalOptions& options,
                     const Provenance& provenance, const std::string& calibration_source) {
  EvalOutput out;
  Evaluation& ev = out.evaluation;
  ev.provenance = provenance;
  ev.provenance.model_description = measured.model_description;
  ev.strict = options.strict;
  ev.cascade = config.cascade;
  ev.num_points = data.size();
  ev.num_classes = data.num_classes;
  ev.class_names = class_names(data);
  const at::Tensor counts = at::bincount(data.labels, {}, data.num_classes);
  for (int64_t c = 0; c < data.num_classes; ++c)
    ev.class_counts.push_back(counts[c].item<int64_t>());
  ev.examples_unavailable = config.report.examples > 0 ? example_images_unavailable()
                                                      : "report.examples is 0: no example images drawn";

  const at::Tensor clean_correct = measured.clean_predictions.eq(data.labels);
  ev.clean_accuracy = fraction(clean_correct);
  ev.clean_correct = clean_correct.sum().item<int64_t>();
  ev.per_class_clean_accuracy = per_class_accuracy(clean_correct, data.labels, ev.num_classes);
  ev.sanity = std::move(measured.probe);
  if (measured.detector) {
    ev.detection =
        detection_report(config, *measured.detector, calibration_source, options.quiet);
  }

  CascadeMasks masks(config.cascade, clean_correct, data.labels);
  std::map<std::string, std::vector<std::string>> earlier;  // budget -> attack ids run so far
  std::map<std::string, at::Tensor> fooled_undetected;      // budget -> bool [N]
  std::vector<AttackOutcome> outcomes;
  for (std::size_t i = 0; i < config.attacks.size(); ++i) {
    const ConfiguredAttack& attack = config.attacks[i];
    AttackRun& run = measured.attacks.at(i);
    const std::string key = attack.bounded ? budget_key(attack.norm, attack.eps) : "";
    run.outcome.robust = masks.record(attack, run.outcome.success);

    AttackReport report;
    report.metrics = attack_metrics(run.outcome, clean_correct, data.labels, ev.num_classes);
    report.name = attack.name;
    report.family = attack.family;
    report.norm = attack.norm;
    report.eps = attack.eps;
    report.bounded = attack.bounded;
    report.bpda = attack.bpda;
    report.backdoor_target = attack.backdoor_target;
    if (attack.backdoor_target >= 0) {
      report.trigger = static_cast<const attacks::BackdoorAttack&>(*attack.attack).trigger().describe();
    }
    report.attacked = run.attacked;
    if (config.cascade && attack.bounded) report.after = earlier[key];
    if (attack.bounded) earlier[key].push_back(run.outcome.id);
    report.seconds = run.outcome.seconds;
    report.forward_samples = run.outcome.forward_samples;
    report.backward_samples = run.outcome.backward_samples;
    for (std::size_t k = 0; k < run.outcome.components.size(); ++k) {
      report.components.emplace_back(
          run.outcome.components[k],
          run.outcome.fooled_by.eq(static_cast<int64_t>(k)).sum().item<int64_t>());
    }
    ev.attacks.push_back(report);
    if (ev.detection) {
      ev.detection->attacks.push_back(attack_detection(run, clean_correct));
      if (attack.bounded) {
        const at::Tensor missed = run.outcome.success.logical_and(run.detected.logical_not());
        auto [it, fresh] = fooled_undetected.emplace(key, missed);
        if (!fresh) it->second = it->second.logical_or(missed);
      }
    }
    add_examples(ev, run, measured.example_predictions.at(i), data, config);
    if (run.adversarial.defined()) out.adversarial[run.outcome.id] = run.adversarial;
    outcomes.push_back(std::move(run.outcome));
  }
  add_budgets(ev, outcomes, data.labels);
  if (ev.detection) {
    for (const auto& b : ev.budgets) {
      ev.detection->budgets.push_back(
          {b.key, fraction(clean_correct.logical_and(fooled_undetected.at(b.key).logical_not()))});
    }
  }
  const auto curve_checks = eps_monotonic_checks(robustness_curve(ev), config.sanity.tolerance);
  ev.sanity.insert(ev.sanity.begin(), curve_checks.begin(), curve_checks.end());
  std::vector<SquareShare> square_shares;
  for (const auto& a : ev.attacks) {
    // A Square component after gradient components, or a cascaded Square after other attacks.
    for (std::size_t k = 1; k < a.components.size(); ++k) {
      if (a.components[k].first.rfind("square-", 0) == 0) {
        square_shares.push_back({a.components[k].first, a.components[k].second});
      }
    }
    if (a.name == "square" && !a.after.empty()) {
      square_shares.push_back({a.metrics.id, a.metrics.successes});
    }
  }
  if (auto square = square_check(square_shares, ev.num_points)) {
    ev.sanity.push_back(std::move(*square));
  }
  if (auto range = eps_range_check(config.attacks, config.model.input.range_min,
                                   config.model.input.range_max,
                                   data.size() == 0 ? 0 : data.images[0].numel())) {
    ev.sanity.insert(ev.sanity.begin(), std::move(*range));
  }
  ev.gates = check_gates(config.gates, gate_values(ev));
  return out;
}

namespace {

// The detector's threshold is fit to give `fpr` false positives on the calibration points; fit
// on the evaluated points themselves, the report's clean false-positive rate is that fpr by
// construction. Refused when 1% or more of the calibration points are evaluated points (the
// same files and range), a warning for fewer (a data set's own exact duplicates across splits).
void check_calibration_apart(const EvalConfig& config, const datasets::Dataset& calibration,
                             const datasets::Dataset& data) {
  if (calibration.size() == 0 || data.size() == 0) return;
  const std::vector<std::string> evaluated = datasets::point_digests(data);
  const std::unordered_set<std::string> seen(evaluated.begin(), evaluated.end());
  int64_t shared = 0;
  for (const auto& d : datasets::point_digests(calibration)) shared += seen.count(d) ? 1 : 0;
  if (shared == 0) return;
  const std::string what = std::to_string(shared) + " of its " +
                           std::to_string(calibration.size()) + " points are evaluated points too";
  if (shared * 100 >= calibration.size()) {
    throw ConfigError(config.source + ": detector.calibration: " + what +
                      " (" + data.source + "): the threshold would be fit on the points it is "
                      "measured on; calibrate on held-out clean data (e.g. the training files' "
                      "last 5,000 points, with offset)");
  }
  spdlog::warn("detector.calibration: {} (identical image and label in both)", what);
}

}  // namespace

EvalOutput evaluate(const EvalConfig& config, models::Model& model, const datasets::Dataset& data,
                    const EvalOptions& options, const Provenance& provenance,
                    const datasets::Dataset* calibration) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<datasets::Dataset> loaded_calibration;
  if (config.detector && calibration == nullptr) {
    loaded_calibration = load_calibration(config);
    calibration = &*loaded_calibration;
  }
  if (config.detector) check_calibration_apart(config, *calibration, data);
  EvalOutput out = summarise(config, data, measure(config, model, data, calibration, options.quiet),
                             options, provenance, calibration ? calibration->source : "");
  out.evaluation.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

datasets::Dataset load_calibration(const EvalConfig& config) {
  return datasets::load_dataset(config.detector->calibration, config.model.num_classes,
                                config.model.input.shape);
}

MeasureScope part_scope(int64_t points, int64_t rank, int64_t world_size) {
  MeasureScope scope;
  scope.begin = points * rank / world_size;
  scope.end = points * (rank + 1) / world_size;
  scope.sanity_probes = rank == 0;
  return scope;
}

Evaluation run_eval(const EvalConfig& config, const EvalOptions& options) {
  return *run_eval_part(config, options, EvalPart{});
}

std::optional<Evaluation> run_eval_part(const EvalConfig& config, const EvalOptions& options,
                                        const EvalPart& part) {
  Provenance provenance;
  provenance.rampart_version = kVersion;
  provenance.libtorch_version = TORCH_VERSION;
  provenance.device = config.device;
  provenance.threads = core::set_threads(config.threads);
  provenance.seed = config.seed;
  provenance.config_file = config.source;
  provenance.config_sha256 = config.config_hash;
  provenance.started_at = core::utc_now_iso8601();
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) provenance.hostname = host;

  // Every model file is read and checked here; none is deserialized in this process.
  const models::AdmittedModel admitted = defenses::admit_defended_model(config.model);
  provenance.model_path = admitted.path;
  provenance.model_sha256 = admitted.sha256;
  provenance.model_bytes = admitted.bytes;
  for (const auto& f : admitted.records) {
    provenance.model_files.push_back(f);
    if (f.verified_by.empty()) {
      spdlog::warn("{}: model file accepted unpinned (security.allow_unpinned); the report says so",
                   f.path);
    }
  }
  const datasets::Dataset data =
      datasets::load_dataset(config.data, config.model.num_classes, config.model.input.shape);
  provenance.data_source = data.source;
  provenance.data_manifest_root = data.manifest_root;
  for (const auto& file : datasets::dataset_files(config.data)) {
    provenance.data_files.emplace_back(file, security::sha256_file(file));
  }
  std::optional<datasets::Dataset> calibration;
  if (config.detector) {
    calibration = load_calibration(config);
    check_calibration_apart(config, *calibration, data);
  }
  const bool sandboxed = admitted.runs_code();
  provenance.model_sandboxed = sandboxed;
  const MeasureScope scope = part_scope(data.size(), part.rank, part.world_size);
  if (!options.quiet) {
    spdlog::info("model {}, data {} ({} points), {} attacks, {} threads on {}{}",
                 provenance.model_path, data.source, data.size(), config.attacks.size(),
                 provenance.threads, config.device,
                 sandboxed ? "; the model runs in a sandboxed worker" : "");
    if (part.world_size > 1) {
      spdlog::info("distributed evaluation: rank {} of {} attacks points [{}, {})", part.rank,
                   part.world_size, scope.begin, scope.end);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Measurements measured;
  if (sandboxed) {
    measured = measure_in_sandbox(config, admitted, data, calibration ? &*calibration : nullptr,
                                  options, scope);
  } else {
    const std::shared_ptr<models::Model> model = defenses::build_defended_model(
        config.model, admitted.files, c10::Device(config.device));
    core::seed_everything(config.seed);
    measured = measure(config, *model, data, calibration ? &*calibration : nullptr, options.quiet,
                       scope);
  }
  if (part.world_size > 1) {
    const std::vector<std::string> answers = part.gather(encode_measurements(measured));
    if (part.rank != 0) return std::nullopt;
    std::vector<Measurements> parts;
    std::vector<MeasureScope> scopes;
    for (int64_t r = 0; r < part.world_size; ++r) {
      scopes.push_back(part_scope(data.size(), r, part.world_size));
      // Another rank's answer is read as a sandboxed worker's is: as untrusted input.
      parts.push_back(r == 0 ? std::move(measured)
                             : decode_measurements(answers.at(r), config, data,
                                                   calibration ? &*calibration : nullptr));
    }
    measured = merge_measurements(config, std::move(parts), scopes);
    provenance.ranks = part.world_size;
  }
  EvalOutput out = summarise(config, data, std::move(measured), options, provenance,
                             calibration ? calibration->source : "");
  out.evaluation.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_reports(config.report, out);
  return out.evaluation;
}

}  // namespace rampart::eval
