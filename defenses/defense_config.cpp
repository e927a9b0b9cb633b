#include "defenses/defense_config.h"

#include <string>
#include <vector>

#include "security/security_config.h"

namespace rampart::defenses {

DefenseSpec parse_defense_spec(const core::ConfigNode& root, double box_min, double box_max) {
  DefenseSpec spec;
  const auto node = root.optional_child("defense");
  if (!node) return spec;
  const std::string method = node->get_choice(
      "method", {"pgd_at", "fgsm_rs", "trades", "ensemble_at", "distillation", "none"},
      std::nullopt);
  if (method == "none") {
    node->expect_keys({"method"});
    return spec;
  }
  if (method == "distillation") {
    node->expect_keys({"method", "temperature", "teacher", "teacher_sha256"});
    DistillationSpec distillation;
    distillation.temperature = node->get_double("temperature", 100.0, 1e-6, 1e6);
    if (node->has("teacher")) {
      distillation.teacher = node->get_string("teacher");
      if (distillation.teacher.empty()) node->fail_at("teacher", "must name a checkpoint file");
      distillation.teacher_intake.sha256 = models::parse_sha256(*node, "teacher_sha256");
      distillation.teacher_intake.policy = security::parse_security_config(root);
    } else if (node->has("teacher_sha256")) {
      node->fail_at("teacher_sha256", "pins the file named by 'teacher', and 'teacher' is not set");
    }
    spec.distillation = distillation;
    return spec;
  }
  std::vector<std::string> keys{"method", "eps", "step_size", "validation", "craft_mode"};
  if (method == "pgd_at") keys.insert(keys.end(), {"steps", "random_init", "clean_weight"});
  if (method == "trades") keys.insert(keys.end(), {"steps", "beta"});
  if (method == "ensemble_at") {
    keys.insert(keys.end(), {"attack", "steps", "clean_weight", "static_models"});
  }
  node->expect_keys(keys);
  const AdversarialMethod kind = method == "pgd_at"        ? AdversarialMethod::kPgdAt
                                 : method == "fgsm_rs"     ? AdversarialMethod::kFgsmRs
                                 : method == "ensemble_at" ? AdversarialMethod::kEnsembleAt
                                                           : AdversarialMethod::kTrades;
  const double eps = node->get_double("eps", std::nullopt, 0.0);
  if (!(eps > 0)) {  // the attack would return its input: standard training reported as robust
    node->fail_at("eps", "must be > 0 (eps 0 crafts no perturbation: that is method: none)");
  }
  AdversarialTrainingOptions options(kind, eps);
  options.steps(node->get_int("steps", 10, 1, 100000))
      .step_size(node->get_double("step_size", 0.0, 0.0))
      .random_init(node->get_bool("random_init", true))
      .clean_weight(node->get_double("clean_weight", 0.0, 0.0, 1.0))
      .beta(node->get_double("beta", 6.0, 0.0))
      .craft_mode(!node->has("craft_mode")                                ? CraftMode::kDefault
                  : node->get_choice("craft_mode", {"train", "eval"}) == "train" ? CraftMode::kTrain
                                                                           : CraftMode::kEval)
      .clip_min(box_min)
      .clip_max(box_max);
  if (kind == AdversarialMethod::kEnsembleAt) {
    const std::string attack = node->get_choice("attack", {"fgsm", "fgsm_rs", "pgd"}, "fgsm");
    if (attack != "pgd" && node->has("steps")) {
      node->fail_at("steps", "'steps' applies to attack: pgd; " + attack + " takes one step");
    }
    options.steps(attack == "pgd" ? options.steps() : 1)
        .random_init(attack != "fgsm")
        .clean_weight(node->get_double("clean_weight", 0.5, 0.0, 1.0));
    if (!node->has("static_models")) {
      node->fail("ensemble_at needs 'static_models': pre-trained models to craft examples on");
    }
    const security::IntakePolicy policy = security::parse_security_config(root);
    for (const auto& item : node->list("static_models")) {
      if (!item.is_map()) item.fail("a static model is a mapping (arch/checkpoint or path)");
      item.expect_keys({"arch", "path", "checkpoint", "sha256", "signature", "public_key"});
      spec.static_models.push_back(models::parse_model_spec(item, /*require_arch=*/false));
      models::set_intake_policy(spec.static_models.back(), policy);
      if (!spec.static_models.back().path.empty()) {
        item.fail_at("path",
                     "a TorchScript file is code, and ensemble_at would run it inside the "
                     "training process (only 'rampart eval' runs such models, sandboxed); give "
                     "the static model as 'arch' with its safetensors 'checkpoint' ('rampart "
                     "train' writes checkpoint.safetensors next to model.pt)");
      }
      if (!spec.static_models.back().arch.empty() && spec.static_models.back().checkpoint.empty()) {
        item.fail("a static model of architecture '" + spec.static_models.back().arch +
                  "' needs 'checkpoint' (its pre-trained weights)");
      }
    }
    if (spec.static_models.empty()) node->fail_at("static_models", "list at least one model");
  }
  spec.adversarial = options;
  if (const auto validation = node->optional_child("validation")) {
    validation->expect_keys({"steps", "points"});
    spec.validation_steps = validation->get_int("steps", 10, 1, 100000);
    spec.validation_points = validation->get_int("points", 1000, 0);
  }
  if (!root.has("validation")) {
    node->fail(
        "adversarial training keeps its most robust epoch, which needs a 'validation' "
        "split at the top level of the config");
  }
  return spec;
}

}  // namespace rampart::defenses
