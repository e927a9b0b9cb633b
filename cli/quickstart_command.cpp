#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/quickstart_config.h"
#include "core/config_node.h"
#include "eval/eval_config.h"
#include "eval/reports.h"
#include "eval/runner.h"
#include "models/checkpoint.h"
#include "security/model_intake.h"
#include "training/trainer.h"

namespace rampart::cli {
namespace {

// `--set eval.KEY=VALUE` overrides the eval config; every other `--set` the train config.
void split_overrides(const std::vector<std::string>& overrides, std::vector<std::string>& train,
                     std::vector<std::string>& eval) {
  for (const auto& o : overrides) {
    if (o.rfind("eval.", 0) == 0) {
      eval.push_back(o.substr(5));
    } else {
      train.push_back(o);
    }
  }
}

}  // namespace

int run_quickstart(const std::string& out_dir, const std::vector<std::string>& overrides) {
  std::vector<std::string> train_overrides{core::string_override("train.output", out_dir)};
  std::vector<std::string> eval_overrides{
      core::string_override("model.checkpoint", out_dir + "/checkpoint.safetensors"),
      core::string_override("report.dir", out_dir + "/report")};
  split_overrides(overrides, train_overrides, eval_overrides);
  auto train_config = training::parse_train_config(
      core::parse_config(kQuickstartConfig, "configs/quickstart.yaml (built in)", train_overrides));
  auto eval_config = eval::parse_eval_config(core::parse_config(
      kQuickstartEvalConfig, "configs/quickstart_eval.yaml (built in)", eval_overrides));

  // 1. Train the small CNN, or reuse (resume) the one a previous quickstart left in out_dir.
  training::TrainOptions train_options;
  train_options.resume = std::filesystem::exists(out_dir + "/checkpoint.safetensors");
  if (train_options.resume) {
    // A model trained longer by an earlier quickstart (--set train.epochs=5) is reused as it
    // is: --resume would refuse a run of fewer epochs than its checkpoint has.
    security::IntakeOptions own;
    own.own_output = true;
    const auto meta = models::read_checkpoint(out_dir + "/checkpoint.safetensors", own).metadata;
    const auto trained = meta.find("epochs_completed");
    if (trained != meta.end() && trained->second.find_first_not_of("0123456789") == std::string::npos &&
        !trained->second.empty() && trained->second.size() < 10) {
      train_config.epochs = std::max<int64_t>(train_config.epochs, std::stoll(trained->second));
    }
  }
  std::printf("rampart quickstart 1/2: %s a small CNN on Fashion-MNIST (%lld epochs) in %s\n",
              train_options.resume ? "reusing" : "training",
              static_cast<long long>(train_config.epochs), out_dir.c_str());
  std::fflush(stdout);
  const training::TrainResult trained = training::train(train_config, train_options);
  if (trained.validation_accuracy) {
    std::printf("Fashion-MNIST test accuracy: %.2f%% (%lld images), training %.2f minutes\n",
                *trained.validation_accuracy * 100.0,
                static_cast<long long>(trained.validation_size), trained.seconds / 60.0);
  }

  // 2. Attack it and write the robustness report, pinned to the checkpoint just trained.
  eval_config.model.intake.sha256 = trained.checkpoint_sha256;
  std::printf("\nrampart quickstart 2/2: FGSM, PGD and Carlini-Wagner on %lld test images\n",
              static_cast<long long>(eval_config.data.limit));
  std::fflush(stdout);
  const eval::Evaluation evaluation = eval::run_eval(eval_config, {});
  std::printf("\n%s\n", eval::terminal_summary(evaluation).c_str());
  std::printf("checkpoint (safetensors): %s\n", trained.checkpoint.c_str());
  std::printf("  sha256:                 %s\n", trained.checkpoint_sha256.c_str());
  if (!trained.torchscript.empty()) {
    std::printf("TorchScript export:       %s\n", trained.torchscript.c_str());
    std::printf("  sha256:                 %s\n", trained.torchscript_sha256.c_str());
  }
  std::printf("report:                   %s/report.html\n", eval_config.report.dir.c_str());
  std::printf("total time:               %.2f minutes\n",
              (trained.seconds + evaluation.seconds) / 60.0);
  return evaluation.exit_code();
}

}  // namespace rampart::cli
