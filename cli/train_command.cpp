#include <cstdio>

#include "cli/commands.h"
#include "cli/quickstart_config.h"
#include "core/config_node.h"
#include "training/trainer.h"

namespace rampart::cli {
namespace {

void print_result(const training::TrainResult& result) {
  std::printf("epochs trained:      %lld\n", static_cast<long long>(result.epochs_run));
  if (result.epochs_run > 0) {
    std::printf("last epoch:          loss %.4f, train accuracy %.2f%%\n", result.train_loss,
                result.train_accuracy * 100.0);
  }
  if (result.validation_accuracy >= 0) {
    std::printf("validation accuracy: %.2f%%\n", result.validation_accuracy * 100.0);
  }
  std::printf("time:                %.2f minutes\n", result.seconds / 60.0);
  std::printf("checkpoint:          %s\n", result.checkpoint.c_str());
  if (!result.torchscript.empty()) {
    std::printf("torchscript:         %s\n", result.torchscript.c_str());
  }
}

}  // namespace

int run_train(const std::string& config_path, const std::vector<std::string>& overrides,
              bool resume) {
  const auto config = training::parse_train_config(core::load_config(config_path, overrides));
  training::TrainOptions options;
  options.resume = resume;
  print_result(training::train(config, options));
  return 0;
}

int run_quickstart(const std::string& out_dir, const std::vector<std::string>& overrides) {
  std::vector<std::string> all_overrides{"train.output=" + out_dir};
  all_overrides.insert(all_overrides.end(), overrides.begin(), overrides.end());
  const auto config = training::parse_train_config(
      core::parse_config(kQuickstartConfig, "configs/quickstart.yaml (built in)", all_overrides));
  std::printf("rampart quickstart: training a small CNN on Fashion-MNIST (%lld epochs)\n",
              static_cast<long long>(config.epochs));
  std::fflush(stdout);
  const training::TrainResult result = training::train(config, {});
  std::printf("\nFashion-MNIST test accuracy: %.2f%% (10000 images)\n",
              result.validation_accuracy * 100.0);
  std::printf("training time: %.2f minutes\n", result.seconds / 60.0);
  std::printf("checkpoint (safetensors): %s\n", result.checkpoint.c_str());
  std::printf("TorchScript export:       %s\n", result.torchscript.c_str());
  return 0;
}

}  // namespace rampart::cli
