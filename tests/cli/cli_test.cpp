#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/remove_tree.h"
#include "core/atomic_file.h"
#include "security/model_intake.h"
#include "support/fixtures.h"
#include "support/test_support.h"

using rampart::test::ProcessResult;
using rampart::test::rampart_binary;
using rampart::test::run_process;
using rampart::test::write_bytes;

namespace {

const char* kValidConfig =
    "seed: 0\n"
    "threads: 1\n"
    "model: {arch: small_cnn, num_classes: 4, input: {shape: [1, 8, 8]}}\n"
    "data: {format: synthetic, num_samples: 64, batch_size: 32}\n"
    "train: {epochs: 1, export_torchscript: false, output: OUT}\n";

std::string config_with(const std::string& dir, std::string text) {
  const auto pos = text.find("OUT");
  if (pos != std::string::npos) text.replace(pos, 3, dir + "/out");
  write_bytes(dir + "/c.yaml", text);
  return dir + "/c.yaml";
}

ProcessResult train(const std::string& config, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{rampart_binary(), "train", config};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_process(args);
}

}  // namespace

TEST_CASE("the subcommand frame, --version and --help", "[cli]") {
  auto version = run_process({rampart_binary(), "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.output.find("rampart 0.1.0 (libtorch ") == 0);
  auto help = run_process({rampart_binary(), "--help"});
  CHECK(help.exit_code == 0);
  for (const char* sub : {"quickstart", "train", "eval", "scan"})
    CHECK(help.output.find(sub) != std::string::npos);
  CHECK(run_process({rampart_binary()}).exit_code == 2);
  CHECK(run_process({rampart_binary(), "frobnicate"}).exit_code == 2);
  CHECK(run_process({rampart_binary(), "train"}).exit_code == 2);
  CHECK(run_process({rampart_binary(), "eval"}).exit_code == 2);
  CHECK(run_process({rampart_binary(), "scan"}).exit_code == 2);
  auto scan = run_process({rampart_binary(), "scan", "/nonexistent/x.pt"});
  CHECK(scan.exit_code == 4);
  CHECK(scan.output.find("/nonexistent/x.pt: model file not found") != std::string::npos);
}

TEST_CASE("config errors exit 2 naming file:line:column and the key", "[cli]") {
  const std::string dir = rampart::test::make_temp_dir("cli-config");
  std::string text = kValidConfig;

  auto unknown = train(config_with(dir, text + "bogus: 1\n"));
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.output.find(dir + "/c.yaml:6:1: bogus: unknown key 'bogus'") != std::string::npos);

  auto wrong_type = train(config_with(
      dir, std::string(kValidConfig).replace(text.find("epochs: 1"), 9, "epochs: lots")));
  CHECK(wrong_type.exit_code == 2);
  CHECK(
      wrong_type.output.find(dir + "/c.yaml:5:17: train.epochs: expected an integer, got 'lots'") !=
      std::string::npos);

  auto negative = train(config_with(
      dir, std::string(kValidConfig).replace(text.find("batch_size: 32"), 14, "batch_size: -8")));
  CHECK(negative.exit_code == 2);
  CHECK(negative.output.find(dir + "/c.yaml:4:56: data.batch_size: must be >= 1, got -8") !=
        std::string::npos);

  auto by_set = train(config_with(dir, text), {"--set", "data.batch_size=-1"});
  CHECK(by_set.exit_code == 2);
  CHECK(by_set.output.find("--set data.batch_size: must be >= 1") !=
        std::string::npos);

  auto syntax = train(config_with(dir, "model: [unclosed\n"));
  CHECK(syntax.exit_code == 2);
  CHECK(syntax.output.find(dir + "/c.yaml:") != std::string::npos);
  CHECK(train(dir + "/absent.yaml").exit_code == 2);
  // One line on stderr, no libtorch internals.
  CHECK(std::count(negative.output.begin(), negative.output.end(), '\n') == 1);
  rampart::core::remove_tree(dir);
}

TEST_CASE("data errors exit 4 and name the file", "[cli]") {
  const std::string dir = rampart::test::make_temp_dir("cli-data");
  const std::string idx =
      "seed: 0\nthreads: 1\nmodel: {arch: small_cnn}\n"
      "data: {format: idx, images: " +
      dir + "/img.idx, labels: " + dir +
      "/lab.idx}\n"
      "train: {epochs: 1, output: " +
      dir + "/out}\n";
  auto missing = train(config_with(dir, idx));
  CHECK(missing.exit_code == 4);
  CHECK(missing.output.find(dir + "/img.idx") != std::string::npos);

  // An IDX image file with a wrong magic number.
  write_bytes(dir + "/img.idx",
              std::string("\x00\x00\x08\x07\x00\x00\x00\x01\x00\x00\x00\x1c\x00\x00\x00\x1c", 16) +
                  std::string(784, '\0'));
  write_bytes(dir + "/lab.idx", std::string("\x00\x00\x08\x01\x00\x00\x00\x01\x03", 9));
  auto magic = train(config_with(dir, idx));
  CHECK(magic.exit_code == 4);
  CHECK(magic.output.find(dir + "/img.idx") != std::string::npos);
  CHECK(std::count(magic.output.begin(), magic.output.end(), '\n') == 1);
  rampart::core::remove_tree(dir);
}

TEST_CASE("a malformed checkpoint exits 3, a good run exits 0 and resumes", "[cli]") {
  const std::string dir = rampart::test::make_temp_dir("cli-model");
  write_bytes(dir + "/bad.safetensors", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10));
  const std::string config = config_with(dir, kValidConfig);
  auto rejected =
      train(config, {"--set", "model.checkpoint=" + dir + "/bad.safetensors", "--allow-unpinned"});
  CHECK(rejected.exit_code == 3);
  CHECK(rejected.output.find(dir + "/bad.safetensors") != std::string::npos);
  CHECK(rejected.output.find("not pinned") == std::string::npos);  // rejected as malformed
  auto unpinned = train(config, {"--set", "model.checkpoint=" + dir + "/bad.safetensors"});
  CHECK(unpinned.exit_code == 3);
  CHECK(unpinned.output.find(dir + "/bad.safetensors: model file is not pinned") !=
        std::string::npos);

  auto ok = train(config);
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(std::filesystem::exists(dir + "/out/checkpoint.safetensors"));
  CHECK(ok.output.find("checkpoint:") != std::string::npos);
  auto again = train(config, {"--resume"});
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("epochs trained:      0") != std::string::npos);
  rampart::core::remove_tree(dir);
}

TEST_CASE("resume with a pinned starting checkpoint, and a refused optimizer switch",
          "[cli][resume]") {
  const std::string dir = rampart::test::make_temp_dir("cli-pin");
  const std::string config = config_with(dir, kValidConfig);
  REQUIRE(train(config).exit_code == 0);
  std::filesystem::copy_file(dir + "/out/checkpoint.safetensors", dir + "/init.safetensors");
  const std::string pin = rampart::security::sha256_file(dir + "/init.safetensors");
  const std::vector<std::string> pinned{"--set", "model.checkpoint=" + dir + "/init.safetensors",
                                        "--set", "model.sha256=" + pin,
                                        "--set", "train.output=" + dir + "/pinned"};
  auto first = train(config, pinned);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  auto more = pinned;
  more.insert(more.end(), {"--set", "train.epochs=2", "--resume"});
  auto resumed = train(config, more);
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.output.find("epochs trained:      1") != std::string::npos);

  auto wrong_pin = pinned;
  wrong_pin[3] = "model.sha256=" + std::string(64, 'a');
  auto rejected = train(config, wrong_pin);
  CHECK(rejected.exit_code == 3);
  CHECK(rejected.output.find("but the pin is") != std::string::npos);

  more.insert(more.end(), {"--set", "train.optimizer={name: adam}", "--set", "train.epochs=3"});
  auto switched = train(config, more);
  CHECK(switched.exit_code == 3);
  CHECK(switched.output.find("checkpoint holds sgd state but the config trains with adam") !=
        std::string::npos);
  rampart::core::remove_tree(dir);
}

TEST_CASE("quickstart trains on Fashion-MNIST, attacks the model and writes the report",
          "[cli][quickstart]") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    rampart::test::skip_without_fixture("Fashion-MNIST (Debian package dataset-fashion-mnist)");
    return;
  }
  const std::string dir = rampart::test::make_temp_dir("cli-quickstart");
  // A shortened run: 2048 training points, one epoch; 200 test points, short attacks.
  const std::vector<std::string> shortened{
      rampart_binary(),
      "quickstart",
      "--out",
      dir + "/qs",
      "--set",
      "data.limit=2048",
      "--set",
      "validation.limit=1000",
      "--set",
      "train.epochs=1",
      "--set",
      "eval.attacks=[{name: fgsm, eps: [0.05, 0.1]}, {name: pgd, eps: 0.1, steps: 5}, "
      "{name: cw, steps: 10, binary_search_steps: 2}]",
      "--set",
      "eval.data.limit=200",
      "--set",
      "eval.gates={clean_accuracy: {min: 0.3}}"};
  auto result = run_process(shortened);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK(result.output.find("1/2: training a small CNN") != std::string::npos);
  CHECK(result.output.find("Fashion-MNIST test accuracy: ") != std::string::npos);
  CHECK(result.output.find("(1000 images)") != std::string::npos);
  CHECK(result.output.find(dir + "/qs/checkpoint.safetensors") != std::string::npos);
  CHECK(result.output.find("cw-l2") != std::string::npos);
  CHECK(result.output.find("report:                   " + dir + "/qs/report/report.html") !=
        std::string::npos);
  CHECK(std::filesystem::exists(dir + "/qs/checkpoint.safetensors"));
  CHECK(std::filesystem::exists(dir + "/qs/model.pt"));
  for (const char* name : {"report.json", "report.md", "junit.xml", "report.html"}) {
    CHECK(std::filesystem::exists(dir + "/qs/report/" + name));
  }
  // The evaluation is pinned to the checkpoint the training wrote, and prints its hash.
  const std::string hash = rampart::security::sha256_file(dir + "/qs/checkpoint.safetensors");
  CHECK(result.output.find("sha256:                 " + hash) != std::string::npos);
  const auto report =
      nlohmann::json::parse(rampart::core::read_file(dir + "/qs/report/report.json"));
  CHECK(report["provenance"]["model"]["files"][0]["verified_by"] == nlohmann::json{"sha256_pin"});
  // A second run reuses the trained model instead of training again.
  auto again = run_process(shortened);
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("1/2: reusing a small CNN") != std::string::npos);
  CHECK(again.output.find("epoch 1/1") == std::string::npos);
  rampart::core::remove_tree(dir);
}
