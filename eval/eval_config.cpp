#include "eval/eval_config.h"

#include <algorithm>

#include "attacks/backdoor_attack.h"
#include "core/error.h"
#include "core/runtime.h"
#include "eval/metrics.h"
#include "security/model_intake.h"
#include "security/security_config.h"

namespace rampart::eval {
namespace {

ReportSpec parse_report_spec(const core::ConfigNode& root) {
  ReportSpec spec;
  const auto report = root.optional_child("report");
  if (!report) return spec;
  report->expect_keys({"dir", "formats", "save_adversarial", "examples"});
  spec.dir = report->get_string("dir", spec.dir);
  if (spec.dir.empty()) report->fail_at("dir", "must name a folder");
  if (report->has("formats")) {
    spec.formats = report->get_string_list("formats");
    const std::vector<std::string> known{"json", "markdown", "junit", "html"};
    for (const auto& format : spec.formats) {
      if (std::find(known.begin(), known.end(), format) == known.end()) {
        report->fail_at("formats",
                        "unknown format '" + format + "' (expected json, markdown, junit or html)");
      }
    }
    if (spec.formats.empty()) report->fail_at("formats", "list at least one format");
  }
  spec.save_adversarial = report->get_bool("save_adversarial", false);
  spec.examples = report->get_int("examples", spec.examples, 0, 64);
  return spec;
}

SanitySpec parse_sanity_spec(const core::ConfigNode& root) {
  SanitySpec spec;
  const auto sanity = root.optional_child("sanity");
  if (!sanity) return spec;
  sanity->expect_keys({"points", "zero_gradient_max", "large_eps_max_accuracy", "tolerance"});
  spec.points = sanity->get_int("points", spec.points, 1, 100000);
  spec.zero_gradient_max = sanity->get_double("zero_gradient_max", spec.zero_gradient_max, 0, 1);
  spec.large_eps_max_accuracy =
      sanity->get_double("large_eps_max_accuracy", spec.large_eps_max_accuracy, 0, 1);
  spec.tolerance = sanity->get_double("tolerance", spec.tolerance, 0, 1);
  return spec;
}

// The classes an attack's loss needs (Croce & Hein 2020): the DLR loss (apgd-dlr) sorts three
// logits, the targeted DLR loss (apgd-t) four. Other attacks need two.
int64_t classes_needed(const std::string& attack_id) {
  if (attack_id.rfind("apgd-t-", 0) == 0) return 4;
  if (attack_id.rfind("apgd-dlr-", 0) == 0) return 3;
  return 2;
}

// Refuses an attack (or an AutoAttack component) whose loss needs more classes than the model
// has, before anything runs; AutoAttack's reference only warns and then fails on an index.
void check_classes(const core::ConfigNode& root, const std::vector<ConfiguredAttack>& attacks,
                   int64_t num_classes) {
  for (const auto& a : attacks) {
    std::vector<std::string> ids = a.attack->components();
    if (ids.empty()) ids.push_back(a.id);
    for (const auto& id : ids) {
      const int64_t needed = classes_needed(id);
      if (needed <= num_classes) continue;
      root.fail_at("attacks", a.id + (id == a.id ? "" : " (its component " + id + ")") +
                                  " uses the " + (needed == 4 ? "targeted " : "") +
                                  "DLR loss, which needs at least " + std::to_string(needed) +
                                  " classes; model.num_classes is " +
                                  std::to_string(num_classes) +
                                  (a.name == "autoattack"
                                       ? " (use version: custom without the DLR components)"
                                       : ""));
    }
  }
}

// A backdoor entry's target must be a class of the model and its patch must fit the input.
void check_backdoors(const core::ConfigNode& root, const std::vector<ConfiguredAttack>& attacks,
                     const models::ModelSpec& model) {
  for (const auto& a : attacks) {
    if (a.backdoor_target < 0) continue;
    if (a.backdoor_target >= model.num_classes) {
      root.fail_at("attacks", a.id + ": target " + std::to_string(a.backdoor_target) +
                                  " is not a class of the model (model.num_classes is " +
                                  std::to_string(model.num_classes) + ")");
    }
    const auto& trigger = static_cast<const attacks::BackdoorAttack&>(*a.attack).trigger();
    const auto& shape = model.input.shape;
    if (trigger.type == "patch" && shape.size() == 3) {
      try {
        trigger.corner(shape[1], shape[2]);
      } catch (const ConfigError& e) {
        root.fail_at("attacks", a.id + ": " + e.what() + " (model.input.shape)");
      }
    }
  }
}

std::optional<DetectorSpec> parse_detector_spec(const core::ConfigNode& root,
                                               const std::vector<int64_t>& input_shape) {
  const auto node = root.optional_child("detector");
  if (!node) return std::nullopt;
  node->expect_keys({"name", "squeezers", "fpr", "calibration"});
  node->get_choice("name", {"feature_squeezing"}, "feature_squeezing");
  DetectorSpec spec;
  if (node->has("squeezers")) {
    for (const auto& item : node->list("squeezers")) {
      spec.squeezers.push_back(models::parse_transform_spec(item));
      if (spec.squeezers.back().name == "jpeg" && input_shape.size() == 3 && input_shape[0] != 1 &&
          input_shape[0] != 3) {
        item.fail("the jpeg squeezer needs 1 or 3 channels, model.input.shape has " +
                  std::to_string(input_shape[0]));
      }
      if (spec.squeezers.back().is_random()) {
        item.fail("a squeezer must be deterministic: " + models::describe(spec.squeezers.back()) +
                  " draws new noise on every pass, so it would flag clean inputs at random");
      }
    }
    if (spec.squeezers.empty()) node->fail_at("squeezers", "list at least one squeezer");
  } else {
    models::TransformSpec bits, median;
    bits.name = "bit_depth";
    bits.bits = 1;
    median.name = "median";
    median.size = 2;
    spec.squeezers = {bits, median};
  }
  spec.fpr = node->get_double("fpr", spec.fpr, 0, 0.5);
  if (!node->has("calibration")) {
    node->fail("missing required key 'calibration' (clean held-out data, same keys as 'data')");
  }
  spec.calibration = datasets::parse_dataset_spec(node->child("calibration"));
  datasets::refuse_sanitising(node->child("calibration"), spec.calibration, "a detector's calibration data");
  return spec;
}

std::optional<DistributedEvalSpec> parse_distributed_spec(const core::ConfigNode& root) {
  if (!root.has("distributed")) return std::nullopt;
  const core::ConfigNode node = root.child("distributed");
  if (!node.is_map()) node.fail("expected a mapping, e.g. {workers: 4}");
  for (const char* key : {"aggregator", "heterogeneity", "simulate_byzantine", "auth", "max_norm"}) {
    if (node.has(key)) {
      node.fail_at(key, "is a training key (rampart train); an evaluation shares only its points");
    }
  }
  node.expect_keys({"workers", "backend", "timeout_seconds"});
  DistributedEvalSpec spec;
  spec.workers = node.get_int("workers", 0, 0, 1024);
  spec.backend = node.get_choice("backend", {"gloo", "nccl"}, "gloo");
  if (spec.backend == "nccl") {
    node.fail_at("backend", "an evaluation exchanges its results once, on the CPU: use gloo "
                            "(the attacks still run on each rank's device)");
  }
  spec.timeout_seconds = node.get_int("timeout_seconds", 3600, 1, 7 * 86400);
  return spec;
}

}  // namespace

std::vector<std::string> budget_keys(const std::vector<ConfiguredAttack>& attacks) {
  std::vector<std::string> keys;
  for (const auto& a : attacks) {
    if (!a.bounded) continue;
    const std::string key = budget_key(a.norm, a.eps);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  return keys;
}

EvalConfig parse_eval_config(const core::ConfigNode& root) {
  if (!root.is_map()) root.fail("an eval config is a mapping with model, data and attacks");
  root.expect_keys({"seed", "device", "threads", "model", "data", "attacks", "cascade", "report",
                    "sanity", "gates", "detector", "security", "distributed"});
  EvalConfig config;
  config.source = root.file();
  config.seed = static_cast<uint64_t>(root.get_int("seed", 0, 0));
  const std::string device = root.get_choice("device", {"cpu", "cuda", "auto"}, "auto");
  config.threads = root.get_int("threads", 0, 0, 1024);
  if (!root.has("model")) root.fail("missing required key 'model'");
  const core::ConfigNode model = root.child("model");
  config.model = models::parse_model_spec(model, /*require_arch=*/false);
  models::set_intake_policy(config.model, security::parse_security_config(root));
  if (!config.model.arch.empty() && config.model.checkpoint.empty()) {
    model.fail("built-in architecture '" + config.model.arch +
               "' needs 'checkpoint' (its trained safetensors weights) to be evaluated");
  }
  if (!root.has("data")) root.fail("missing required key 'data'");
  config.data = datasets::parse_dataset_spec(root.child("data"));
  datasets::refuse_sanitising(root.child("data"), config.data, "evaluated data");
  if (!config.data.class_names.empty() &&
      static_cast<int64_t>(config.data.class_names.size()) != config.model.num_classes) {
    root.child("data").fail_at("class_names", "lists " +
                                                  std::to_string(config.data.class_names.size()) +
                                                  " names but model.num_classes is " +
                                                  std::to_string(config.model.num_classes));
  }
  AttackContext context;
  context.clip_min = config.model.input.range_min;
  context.clip_max = config.model.input.range_max;
  context.seed = config.seed;
  config.randomised = std::any_of(config.model.transforms.begin(), config.model.transforms.end(),
                                  [](const models::TransformSpec& t) { return t.is_random(); });
  context.randomised = config.randomised;
  config.attacks = parse_attacks(root, context);
  check_classes(root, config.attacks, config.model.num_classes);
  check_backdoors(root, config.attacks, config.model);
  // BPDA twins for transforms without a useful gradient; noise has its own exact one.
  const bool needs_bpda =
      std::any_of(config.model.transforms.begin(), config.model.transforms.end(),
                  [](const models::TransformSpec& t) { return !t.is_differentiable(); });
  if (needs_bpda) config.attacks = with_bpda_twins(config.attacks);
  // A detector's "robust or detected" needs every attack on every point: with the cascade a
  // point that an earlier attack fooled and the detector flagged is never attacked by the later
  // ones, which might fool it unflagged, and would count as stopped.
  config.cascade = root.get_bool("cascade", !root.has("detector"));
  if (config.cascade && root.has("detector")) {
    root.fail_at("cascade", "a detector needs cascade: false (the default with one): with the "
                            "cascade a point an earlier attack fooled and the detector flagged "
                            "is not attacked by the later ones, so 'robust or detected' would "
                            "overstate");
  }
  config.report = parse_report_spec(root);
  config.sanity = parse_sanity_spec(root);
  config.detector = parse_detector_spec(root, config.model.input.shape);
  config.distributed = parse_distributed_spec(root);
  std::vector<std::string> ids, unbounded, backdoors;
  for (const auto& a : config.attacks) {
    ids.push_back(a.id);
    if (a.backdoor_target >= 0) {
      backdoors.push_back(a.id);
    } else if (!a.bounded) {
      unbounded.push_back(a.id);
    }
  }
  config.gates = parse_gates(root, ids, budget_keys(config.attacks), unbounded, backdoors);
  try {
    config.device = core::resolve_device(device, "device");
  } catch (const ConfigError&) {
    root.fail_at("device", "'cuda' requested but no CUDA device is available to this build");
  }
  config.effective_yaml = root.dump();
  config.config_hash = security::sha256_hex(config.effective_yaml);
  return config;
}

}  // namespace rampart::eval
