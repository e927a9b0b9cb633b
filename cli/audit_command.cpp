#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/config_node.h"
#include "core/error.h"
#include "core/runtime.h"
#include "core/shape_text.h"
#include "datasets/dataset_spec.h"
#include "datasets/manifest.h"
#include "datasets/npy.h"
#include "defenses/defended_training.h"
#include "defenses/poisoning/audit_report.h"
#include "defenses/poisoning/data_audit.h"
#include "defenses/poisoning/feature_extraction.h"
#include "defenses/poisoning/source_diversity.h"
#include "models/checkpoint.h"
#include "models/model_spec.h"
#include "security/security_config.h"
#include "training/trainer.h"

namespace rampart::cli {
namespace {

using defenses::poisoning::AuditContext;

// The model whose features the audit reads: the checkpoint `model` names, or one trained on
// the audited data by the `train` recipe.
std::shared_ptr<models::Classifier> audit_model(const core::ConfigNode& root,
                                                const models::ModelSpec& spec,
                                                AuditContext& context) {
  if (!spec.path.empty() || spec.is_ensemble() || !spec.transforms.empty()) {
    root.fail_at("model",
                 "audit-data reads features from a built-in architecture (arch, with checkpoint "
                 "to audit with those weights, or without to train one on the data first); a "
                 "TorchScript file, an ensemble or transforms have no penultimate layer it knows");
  }
  if (spec.checkpoint.empty()) {
    if (!root.has("train")) {
      root.fail_at("model", "no checkpoint and no 'train' section: audit-data needs trained "
                            "weights, or a train recipe to train them on the data first");
    }
    const training::TrainConfig config = training::parse_train_config(root);
    const auto defense = defenses::parse_defense_spec(root, config.model.input.range_min,
                                                      config.model.input.range_max);
    std::fprintf(stderr, "audit-data: model.checkpoint is not set: training %s on the data first\n",
                 config.model.arch.c_str());
    const training::TrainResult trained =
        defenses::train_with_defense(config, defense, training::TrainOptions{});
    context.model = config.model.arch + ", trained to " + trained.checkpoint + " (sha256 " +
                    trained.checkpoint_sha256 + ")";
    context.trained_here = true;
    return trained.model;
  }
  auto model = models::make_classifier(spec);
  const models::SafetensorsFile file = models::read_checkpoint(spec.checkpoint, spec.intake);
  models::load_weights(*model, file, spec.checkpoint);
  context.model = spec.arch + ", checkpoint " + spec.checkpoint;
  return model;
}

}  // namespace

int run_audit_data(const AuditCommand& command) {
  const core::ConfigNode root = core::load_config(command.config_path, command.overrides);
  root.expect_keys({"seed", "device", "threads", "model", "data", "validation", "train", "defense",
                    "security", "audit"});
  for (const char* key : {"model", "data"}) {
    if (!root.has(key)) root.fail(std::string("missing required key '") + key + "'");
  }
  core::set_threads(root.get_int("threads", 0, 0, 1024));
  const std::string device_name =
      core::resolve_device(root.get_choice("device", {"cpu", "cuda", "auto"}, "auto"), "device");
  const c10::Device device(device_name);
  models::ModelSpec spec = models::parse_model_spec(root.child("model"), /*require_arch=*/false);
  models::set_intake_policy(spec, security::parse_security_config(root));
  const defenses::poisoning::AuditSpec audit = defenses::poisoning::parse_audit_spec(
      root.has("audit") ? root.child("audit") : core::parse_config("{}", "audit"));
  const datasets::DatasetSpec data_spec = datasets::parse_dataset_spec(root.child("data"));
  // audit.json's indices are into the data as configured; with points left out or relabelled
  // they would name other points of the data a later data.exclude reads.
  if (!data_spec.exclude.empty() || !data_spec.relabel.empty()) {
    root.fail_at("data", "'exclude' or 'relabel' in an audit config: audit the whole data set, "
                         "then train with data.exclude (or data.relabel)");
  }
  std::string ground_truth_path;
  if (root.has("audit") && root.child("audit").has("ground_truth")) {
    ground_truth_path = root.child("audit").get_string("ground_truth");
  }

  AuditContext context;
  context.config_path = command.config_path;
  // What can be checked before the model is trained is: a mistyped ground truth or an --out
  // that cannot be a folder stops the run before the training, not after it.
  if (!ground_truth_path.empty()) {
    const at::Tensor truth = datasets::read_npy(ground_truth_path);
    if (truth.dim() != 1 || !at::isIntegralType(truth.scalar_type(), /*includeBool=*/false)) {
      throw DataError(ground_truth_path + ": expected a 1-D array of integer point indices (the "
                      "poisoned.npy of rampart data poison), got " + std::string(truth.dtype().name()) +
                      " of shape " + core::shape_text(truth.sizes()));
    }
    context.ground_truth = truth.to(at::kLong);
    context.ground_truth_path = ground_truth_path;
    if (std::get<0>(at::_unique(context.ground_truth)).numel() != context.ground_truth.numel()) {
      throw DataError(ground_truth_path + ": an index is listed twice");
    }
  }
  core::make_directories(command.out);
  auto model = audit_model(root, spec, context);
  model->to(device);
  const datasets::Dataset data = datasets::load_dataset(data_spec, spec.num_classes, spec.input.shape);
  context.data_source = data.source;
  context.manifest_root = data.manifest_root;
  context.data_root = datasets::data_root(data);
  context.class_names = data.class_names;
  if (context.ground_truth.defined()) {
    if (context.ground_truth.numel() &&
        (context.ground_truth.min().item<int64_t>() < 0 ||
         context.ground_truth.max().item<int64_t>() >= data.size())) {
      throw DataError(ground_truth_path + ": an index is outside the " +
                      std::to_string(data.size()) + " points of the data");
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  const at::Tensor features =
      defenses::poisoning::extract_features(*model, data.images, audit.batch_size, device, audit.layer);
  context.feature_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // label_margin reads the logits: a second pass when the features are the penultimate layer.
  at::Tensor logits;
  if (audit.uses("label_margin")) {
    logits = audit.layer == "logits" ? features
                                     : defenses::poisoning::extract_features(
                                           *model, data.images, audit.batch_size, device, "logits");
  }
  // The spectral detector tells a poisoned class's poisons from its own images by their source
  // diversity in input space (defenses/poisoning/source_diversity.h).
  const at::Tensor inputs = audit.uses("spectral") ? defenses::poisoning::neighbour_space(data.images)
                                                   : at::Tensor();
  const auto result = [&] {
    try {
      return defenses::poisoning::audit_features(features, data.labels, spec.num_classes, audit,
                                                 logits, inputs);
    } catch (const DataError& e) {  // non-finite features: say which data the model broke on
      throw DataError(data.source + ": " + e.what());
    }
  }();
  // The folder is one audit's set: an earlier run's features.npy beside this audit.json (saved
  // then, not now) would be taken for these; audit.json, written last, says the set is whole.
  for (const char* stale : {"audit.json", "features.npy"}) {
    std::error_code ec;
    std::filesystem::remove(command.out + "/" + stale, ec);
    if (ec) throw DataError(command.out + "/" + stale + ": cannot replace it: " + ec.message());
  }
  if (audit.save_features) datasets::write_npy(command.out + "/features.npy", features);
  defenses::poisoning::write_audit_reports(command.out, result, audit, context, data.images,
                                           data.labels, spec.input.range_min, spec.input.range_max);

  std::printf("audited:   %lld points of %s, %s features (%lld dims, %.1f s), detection %.2f s\n",
              static_cast<long long>(result.points), data.source.c_str(), audit.layer.c_str(),
              static_cast<long long>(result.feature_dims), context.feature_seconds, result.seconds);
  for (const auto& d : result.detectors) {
    // "judged poisoned: class 3 (Dress)", "classes 0, 3", or "no class".
    std::string classes;
    int64_t poisoned = 0;
    for (const auto& v : d.classes) {
      if (!v.poisoned) continue;
      classes += (poisoned++ ? ", " : "") + std::to_string(v.label);
      if (v.label < static_cast<int64_t>(context.class_names.size())) {
        classes += " (" + context.class_names[v.label] + ")";
      }
    }
    const std::string verdict = poisoned == 0 ? "no class" : (poisoned == 1 ? "class " : "classes ") + classes;
    std::printf("%-22s flagged %lld%s\n", (d.name + ":").c_str(),
                static_cast<long long>(d.flagged.sum().item<int64_t>()),
                defenses::poisoning::judges_points_only(d.name) ? ""
                                       : (", judged poisoned: " + verdict).c_str());
  }
  std::printf("flagged:   %lld of %lld points (%.2f%%)\n",
              static_cast<long long>(result.flagged.numel()), static_cast<long long>(result.points),
              result.points ? 100.0 * static_cast<double>(result.flagged.numel()) / result.points : 0.0);
  if (context.ground_truth.defined()) {
    at::Tensor any = at::zeros({result.points}, at::kBool);
    if (result.flagged.numel()) any.index_fill_(0, result.flagged, true);
    const auto s = defenses::poisoning::score_audit(any, context.ground_truth, result.points);
    std::printf("truth:     recall %.2f%% (%lld of %lld), precision %.2f%%, false positives %lld "
                "(%.2f%% of clean points)\n",
                100 * s.recall(), static_cast<long long>(s.true_positives),
                static_cast<long long>(s.poisoned), 100 * s.precision(),
                static_cast<long long>(s.false_positives), 100 * s.false_positive_rate());
  }
  std::printf("written:   %s/audit.json (flagged indices), audit.md, audit.html\n",
              command.out.c_str());
  return 0;
}

}  // namespace rampart::cli
