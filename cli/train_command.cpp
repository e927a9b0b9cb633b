#include <cstdio>

#include "cli/commands.h"
#include "core/config_node.h"
#include "defenses/defended_training.h"
#include "training/trainer.h"

namespace rampart::cli {
namespace {

void print_train_result(const training::TrainResult& result) {
  std::printf("epochs trained:      %lld\n", static_cast<long long>(result.epochs_run));
  if (result.epochs_run > 0) {
    std::printf("last epoch:          loss %.4f, train accuracy %.2f%%\n", result.train_loss,
                result.train_accuracy * 100.0);
  }
  if (result.validation_accuracy) {
    std::printf("validation accuracy: %.2f%% (%lld points, last epoch)\n",
                *result.validation_accuracy * 100.0,
                static_cast<long long>(result.validation_size));
  }
  std::printf("time:                %.2f minutes\n", result.seconds / 60.0);
  std::printf("checkpoint:          %s\n", result.checkpoint.c_str());
  if (!result.checkpoint_sha256.empty()) {
    std::printf("  sha256:            %s\n", result.checkpoint_sha256.c_str());
  }
  if (result.robust_accuracy) {
    std::printf("robust accuracy:     %.2f%% (last epoch)\n", *result.robust_accuracy * 100.0);
  }
  if (result.best_robust_accuracy) {
    std::printf("most robust epoch:   %lld, robust %.2f%%, clean %.2f%%, kept in %s\n",
                static_cast<long long>(result.best_epoch), *result.best_robust_accuracy * 100.0,
                result.kept_validation_accuracy.value_or(0.0) * 100.0,
                result.best_checkpoint.c_str());
  }
  if (!result.torchscript.empty()) {
    std::printf("torchscript:         %s\n", result.torchscript.c_str());
    std::printf("  sha256:            %s\n", result.torchscript_sha256.c_str());
  }
}

}  // namespace

int run_train(const std::string& config_path, const std::vector<std::string>& overrides,
              bool resume) {
  const core::ConfigNode root = core::load_config(config_path, overrides);
  const auto config = training::parse_train_config(root);
  const auto defense = defenses::parse_defense_spec(root, config.model.input.range_min,
                                                    config.model.input.range_max);
  training::TrainOptions options;
  options.resume = resume;
  print_train_result(defenses::train_with_defense(config, defense, options));
  return 0;
}

}  // namespace rampart::cli
