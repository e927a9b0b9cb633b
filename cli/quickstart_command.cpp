#include <cstdio>

#include "cli/commands.h"
#include "cli/quickstart_config.h"
#include "core/config_node.h"
#include "training/trainer.h"

namespace rampart::cli {

int run_quickstart(const std::string& out_dir, const std::vector<std::string>& overrides) {
  std::vector<std::string> all_overrides{"train.output=" + out_dir};
  all_overrides.insert(all_overrides.end(), overrides.begin(), overrides.end());
  const auto config = training::parse_train_config(
      core::parse_config(kQuickstartConfig, "configs/quickstart.yaml (built in)", all_overrides));
  std::printf("rampart quickstart: training a small CNN on Fashion-MNIST (%lld epochs)\n",
              static_cast<long long>(config.epochs));
  std::fflush(stdout);
  const training::TrainResult result = training::train(config, {});
  std::printf("\n");
  if (result.validation_accuracy) {
    std::printf("Fashion-MNIST test accuracy: %.2f%% (%lld images)\n",
                *result.validation_accuracy * 100.0,
                static_cast<long long>(result.validation_size));
  }
  std::printf("training time: %.2f minutes\n", result.seconds / 60.0);
  std::printf("checkpoint (safetensors): %s\n", result.checkpoint.c_str());
  if (!result.torchscript.empty()) {
    std::printf("TorchScript export:       %s\n", result.torchscript.c_str());
  }
  return 0;
}

}  // namespace rampart::cli
