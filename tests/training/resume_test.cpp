#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/remove_tree.h"
#include "core/atomic_file.h"
#include "core/config_node.h"
#include "models/safetensors.h"
#include "support/test_support.h"
#include "training/trainer.h"

extern char** environ;

using namespace rampart;

namespace {

// A tiny training job on synthetic data: small_cnn on 1x16x16, 3 epochs of 192 steps
// (about 1.5 s each on 2 threads).
std::string tiny_config(const std::string& output) {
  return "seed: 7\n"
         "device: cpu\n"
         "threads: 2\n"
         "model: {arch: small_cnn, num_classes: 4, input: {shape: [1, 16, 16]}}\n"
         "data: {format: synthetic, num_samples: 6144, seed: 1, sample_seed: 1, batch_size: 32}\n"
         "validation: {format: synthetic, num_samples: 512, seed: 1, sample_seed: 2, batch_size: "
         "256}\n"
         "train:\n"
         "  epochs: 3\n"
         "  optimizer: {name: sgd, lr: 0.05, momentum: 0.9}\n"
         "  schedule: {name: cosine}\n"
         "  export_torchscript: false\n"
         "  output: " +
         output + "\n";
}

models::SafetensorsFile read(const std::string& path) {
  return models::parse_safetensors(core::read_file(path), path);
}

}  // namespace

TEST_CASE("training is deterministic under a seed and learns synthetic data", "[training]") {
  const std::string dir = test::make_temp_dir("det");
  auto a = training::train(
      training::parse_train_config(core::parse_config(tiny_config(dir + "/a"), "a.yaml")), {});
  auto b = training::train(
      training::parse_train_config(core::parse_config(tiny_config(dir + "/b"), "b.yaml")), {});
  CHECK(a.epochs_run == 3);
  REQUIRE(a.validation_accuracy);
  CHECK(*a.validation_accuracy > 0.9);
  auto pa = a.model->parameters();
  auto pb = b.model->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) REQUIRE(torch::equal(pa[i], pb[i]));
  auto c = training::train(training::parse_train_config(core::parse_config(
                               tiny_config(dir + "/c"), "c.yaml", {"seed=8", "train.epochs=1"})),
                           {});
  CHECK_FALSE(torch::equal(c.model->parameters()[0], pa[0]));
  rampart::core::remove_tree(dir);
}

TEST_CASE("train killed mid-epoch then --resume ends with the uninterrupted weights",
          "[training][resume]") {
  const std::string dir = test::make_temp_dir("resume");
  const std::string config = dir + "/train.yaml";
  test::write_bytes(config, tiny_config(dir + "/killed"));

  // Uninterrupted reference run, in another output folder.
  auto full = test::run_process(
      {test::rampart_binary(), "train", config, "--set", "train.output=" + dir + "/full"});
  INFO(full.output);
  REQUIRE(full.exit_code == 0);

  // The same run, killed with SIGKILL partway through epoch 2.
  const std::string log = dir + "/killed.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> args{test::rampart_binary(), "train", config};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (test::file_text(log).find("epoch 2/3: started") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // some steps into epoch 2
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  INFO(test::file_text(log));
  REQUIRE(WIFSIGNALED(status));
  const auto partial = read(dir + "/killed/checkpoint.safetensors");
  REQUIRE(partial.metadata.at("epochs_completed") == "1");  // killed inside epoch 2

  auto resumed = test::run_process({test::rampart_binary(), "train", config, "--resume"});
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.output.find("resuming from") != std::string::npos);

  const auto a = read(dir + "/full/checkpoint.safetensors");
  const auto b = read(dir + "/killed/checkpoint.safetensors");
  CHECK(b.metadata.at("epochs_completed") == "3");
  REQUIRE(a.tensors.size() == b.tensors.size());
  std::size_t optimizer_tensors = 0;
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    INFO(a.tensors[i].first);
    REQUIRE(a.tensors[i].first == b.tensors[i].first);
    REQUIRE(torch::equal(a.tensors[i].second, b.tensors[i].second));
    optimizer_tensors += a.tensors[i].first.rfind("optimizer.", 0) == 0;
  }
  CHECK(optimizer_tensors == 8);  // momentum buffers of the 8 parameters

  // Resuming the 3 trained epochs with train.epochs 2 trained nothing and re-exported the
  // 3-epoch model as a 2-epoch run's: refused (exit 2), the checkpoint as it was.
  auto fewer = test::run_process(
      {test::rampart_binary(), "train", config, "--resume", "--set", "train.epochs=2"});
  CHECK(fewer.exit_code == 2);
  CHECK_THAT(fewer.output, Catch::Contains("train.epochs: 2, but") &&
                               Catch::Contains("has trained 3: --resume continues a run"));
  CHECK(read(dir + "/killed/checkpoint.safetensors").metadata.at("epochs_completed") == "3");
  // --allow-unpinned (security.allow_unpinned) does not change the training: no warning that
  // the config changed (the hash left security out).
  auto flagged = test::run_process({test::rampart_binary(), "train", config, "--resume", "--allow-unpinned"});
  INFO(flagged.output);
  CHECK(flagged.exit_code == 0);
  CHECK_THAT(flagged.output, !Catch::Contains("the config changed"));
  auto changed = test::run_process(
      {test::rampart_binary(), "train", config, "--resume", "--set", "seed=9"});
  CHECK_THAT(changed.output, Catch::Contains("the config changed"));
  rampart::core::remove_tree(dir);
}
