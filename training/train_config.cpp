#include "training/train_config.h"

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/runtime.h"
#include "security/model_intake.h"
#include "security/security_config.h"

namespace rampart::training {

TrainConfig parse_train_config(const core::ConfigNode& root) {
  // `defense` is read by defenses::parse_defense_spec, `audit` by `rampart audit-data`.
  root.expect_keys(
      {"seed", "device", "threads", "model", "data", "validation", "train", "defense", "security",
       "distributed", "audit"});
  TrainConfig config;
  config.seed = static_cast<uint64_t>(root.get_int("seed", 0, 0));
  const std::string device = root.get_choice("device", {"cpu", "cuda", "auto"}, "auto");
  config.threads = root.get_int("threads", 0, 0, 1024);
  config.model = models::parse_model_spec(root.child("model"), /*require_arch=*/true);
  models::set_intake_policy(config.model, security::parse_security_config(root));
  config.data = datasets::parse_dataset_spec(root.child("data"));
  if (auto validation = root.optional_child("validation")) {
    config.validation = datasets::parse_dataset_spec(*validation);
    datasets::refuse_sanitising(*validation, *config.validation, "validation data");
  }
  const core::ConfigNode train = root.child("train");
  train.expect_keys({"epochs", "optimizer", "schedule", "output", "export_torchscript"});
  config.epochs = train.get_int("epochs", 1, 1, 100000);
  if (auto optimizer = train.optional_child("optimizer")) {
    config.optimizer = parse_optimizer_spec(*optimizer);
  }
  if (auto schedule = train.optional_child("schedule")) {
    config.schedule = parse_schedule_spec(*schedule);
  }
  config.output = train.get_string("output", "runs/train");
  if (config.output.empty()) train.fail("output must name a folder");
  config.export_torchscript = train.get_bool("export_torchscript", true);
  try {
    config.device = core::resolve_device(device, "device");
  } catch (const ConfigError&) {
    root.fail_at("device", "'cuda' requested but no CUDA device is available to this build");
  }
  // Without `security`: how the model files were admitted (--allow-unpinned is
  // security.allow_unpinned) does not change the training, and a resume with or without the
  // flag is the same run.
  YAML::Node hashed = YAML::Load(root.dump());
  if (hashed.IsMap()) hashed.remove("security");
  config.config_hash = security::sha256_hex(YAML::Dump(hashed));
  return config;
}

}  // namespace rampart::training
