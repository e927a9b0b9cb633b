#include <ATen/ATen.h>

#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/config_node.h"
#include "core/error.h"
#include "core/runtime.h"
#include "datasets/dataset_spec.h"
#include "datasets/exclusion.h"
#include "datasets/manifest.h"
#include "datasets/relabel_file.h"
#include "defenses/poisoning/feature_extraction.h"
#include "defenses/poisoning/relabel_plan.h"
#include "models/checkpoint.h"
#include "models/model_spec.h"
#include "models/safetensors.h"
#include "security/model_intake.h"
#include "security/security_config.h"

namespace rampart::cli {

int run_data_relabel(const RelabelCommand& command) {
  const core::ConfigNode root = core::load_config(command.config_path, command.overrides);
  for (const char* key : {"model", "data"}) {
    if (!root.has(key)) root.fail(std::string("missing required key '") + key + "'");
  }
  if (!(command.min_confidence >= 0.0 && command.min_confidence <= 1.0)) {
    throw ConfigError("--min-confidence: must lie in [0, 1], got " +
                      std::to_string(command.min_confidence));
  }
  core::set_threads(root.get_int("threads", 0, 0, 1024));
  const c10::Device device(
      core::resolve_device(root.get_choice("device", {"cpu", "cuda", "auto"}, "auto"), "device"));
  models::ModelSpec spec = models::parse_model_spec(root.child("model"), /*require_arch=*/false);
  models::set_intake_policy(spec, security::parse_security_config(root));
  if (!command.model.empty()) spec.checkpoint = command.model;
  if (!spec.path.empty() || spec.is_ensemble() || !spec.transforms.empty() || spec.checkpoint.empty()) {
    root.fail_at("model", "data relabel predicts with a built-in architecture's checkpoint: pass "
                          "--model CHECKPOINT, the model trained without the flagged points "
                          "(data.exclude)");
  }
  datasets::DatasetSpec data_spec = datasets::parse_dataset_spec(root.child("data"));
  if (data_spec.exclude.empty()) {
    root.fail_at("data", "no 'exclude': name the data audit (audit.json or its folder) whose "
                         "flagged points to relabel, as the sanitised retraining's config does");
  }
  const std::string audit = data_spec.exclude;
  data_spec.exclude.clear();  // the flagged points are the ones to predict
  const datasets::Dataset data = datasets::load_dataset(data_spec, spec.num_classes, spec.input.shape);
  const std::string data_root = datasets::data_root(data);  // one hashing pass, for both uses
  const at::Tensor flagged = datasets::read_exclusion(audit, data, data_root);

  auto model = models::make_classifier(spec);
  // Read once: the hash recorded is the hash of the bytes whose weights predict.
  const security::ModelFile bytes = security::read_model_file(spec.checkpoint, spec.intake);
  const models::SafetensorsFile file = models::parse_safetensors(bytes.bytes, spec.checkpoint);
  models::load_weights(*model, file, spec.checkpoint);
  model->to(device);
  const auto metadata = [&](const std::string& key) {
    const auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string("?") : it->second;
  };
  if (const auto relabel = file.metadata.find("data_relabel_file"); relabel != file.metadata.end()) {
    throw ConfigError("--model " + spec.checkpoint + ": trained on the relabelling " +
                      relabel->second + " (data.relabel), not without the audit's flagged points: "
                      "pass the model retrained with data.exclude " + audit);
  }
  const auto excluded = file.metadata.find("data_excluded_points");
  if (excluded != file.metadata.end() && excluded->second != std::to_string(flagged.numel())) {
    throw ConfigError("--model " + spec.checkpoint + ": trained without " + excluded->second +
                      " points (data.exclude " + metadata("data_exclusion_file") +
                      ") but the audit " + audit + " flags " + std::to_string(flagged.numel()) +
                      ": it is not the model retrained without this audit's flagged points");
  }
  // The count alone takes a model retrained without another audit's flags of the same number
  // (that model saw these poisons): its data's root must be this data's without these flags.
  if (const auto trained = file.metadata.find("data_root");
      excluded != file.metadata.end() && trained != file.metadata.end()) {
    // The root of exactly these points, as the trainer records it (not data_root(), which
    // returns the full data's manifest root when the config names a manifest).
    const std::string sanitised = datasets::manifest_root(
        datasets::point_digests(datasets::exclude_points(data, flagged, audit)));
    if (trained->second != sanitised) {
      throw ConfigError("--model " + spec.checkpoint + ": trained on other data (root " +
                        trained->second + ", data.exclude " + metadata("data_exclusion_file") +
                        ") than this data without the audit " + audit + "'s flagged points (root " +
                        sanitised + "): it is not the model retrained without them");
    }
  }
  if (excluded == file.metadata.end()) {
    std::fprintf(stderr,
                 "rampart: warning: %s was not trained with data.exclude: a model that saw the "
                 "flagged points may have learned their backdoor (the points it puts in their "
                 "given class are left out, not relabelled)\n",
                 spec.checkpoint.c_str());
  }
  const at::Tensor given = data.labels.to(at::kLong).index_select(0, flagged);
  const at::Tensor logits = defenses::poisoning::extract_features(
      *model, data.images.index_select(0, flagged), 512, device, "logits");
  // A model with NaN or inf outputs would leave every point out "as kept in its label", which is
  // not what it says: refused, as audit-data refuses such a model.
  const at::Tensor broken = logits.isfinite().all(1).logical_not();
  if (broken.any().item<bool>()) {
    const int64_t row = broken.nonzero()[0][0].item<int64_t>();
    throw DataError(spec.checkpoint + ": the logits of point " +
                    std::to_string(flagged[row].item<int64_t>()) + " of " + data.source +
                    " are not finite: the model's output is broken there, so it cannot name "
                    "the flagged points' classes");
  }
  datasets::Relabelling plan =
      defenses::poisoning::plan_relabelling(flagged, given, logits, command.min_confidence);
  plan.points = data.size();
  plan.data_root = data_root;
  plan.source = data.source;
  plan.audit = audit;
  plan.model = spec.checkpoint;
  plan.model_sha256 = bytes.sha256;
  core::write_file_atomic(command.out, datasets::relabelling_json(plan));

  std::map<int64_t, int64_t> per_class;
  const at::Tensor to = plan.to.contiguous();
  for (int64_t i = 0; i < to.numel(); ++i) ++per_class[to.data_ptr<int64_t>()[i]];
  std::string classes;
  for (const auto& [label, count] : per_class) {
    classes += (classes.empty() ? "" : ", ") + std::to_string(count) + " to " + std::to_string(label);
  }
  std::printf("flagged:    %lld of %lld points (%s)\n", static_cast<long long>(flagged.numel()),
              static_cast<long long>(data.size()), audit.c_str());
  std::printf("relabelled: %lld%s%s%s\n", static_cast<long long>(plan.indices.numel()),
              classes.empty() ? "" : " (", classes.c_str(), classes.empty() ? "" : ")");
  std::printf("left out:   %lld (the model keeps the label they were flagged under%s)\n",
              static_cast<long long>(plan.left_out.numel()),
              command.min_confidence > 0 ? ", or is less sure than --min-confidence" : "");
  std::printf("written:    %s (train with data.relabel: %s instead of data.exclude)\n",
              command.out.c_str(), command.out.c_str());
  return 0;
}

}  // namespace rampart::cli
