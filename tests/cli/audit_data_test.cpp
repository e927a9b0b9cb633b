// `rampart audit-data` end to end on 10,000 Fashion-MNIST points (the CI-sized version of
// docs/poisoning.md's measurement): the reports, the target class's standing, an unpoisoned set
// left alone, and a retraining with data.exclude.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/atomic_file.h"
#include "support/fixtures.h"
#include "support/test_support.h"

using rampart::test::rampart_binary;
using rampart::test::run_process;
using rampart::test::write_bytes;

namespace {

using rampart::test::kFmnist;
const std::string kModel =
    "model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n";
const std::string kTrain =
    "train: {epochs: 4, optimizer: {name: sgd, lr: 0.05, momentum: 0.9}, schedule: {name: cosine}, "
    "export_torchscript: false, output: OUT}\n";
const std::string kTrigger = "{type: patch, size: 3, row: 1, col: 12, value: 1.0}";

std::string with_output(std::string text, const std::string& out) {
  text.replace(text.find("OUT"), 3, out);
  return text;
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(rampart::core::read_file(path));
}

// The backdoor's attack success rate as `rampart eval`'s backdoor entry measures it on the
// first 2,000 test images, under a gate of at most 20%: (ASR, exit code, output).
std::tuple<double, int, std::string> backdoor_eval(const std::string& dir,
                                                   const std::string& checkpoint) {
  const std::string eval = dir + "/asr_eval.yaml";
  write_bytes(eval, "model: {arch: small_cnn, checkpoint: " + checkpoint +
                        ", num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
                        "data: {format: idx, images: " + kFmnist + "t10k-images-idx3-ubyte.gz, labels: " +
                        kFmnist + "t10k-labels-idx1-ubyte.gz, limit: 2000}\n"
                        "attacks: [{name: backdoor, target: 3, trigger: " + kTrigger + "}]\n"
                        "gates: {attack_success_rate: {backdoor-patch-to-3: {max: 0.2}}}\n");
  const auto r = run_process({rampart_binary(), "eval", eval, "--out", dir + "/asr_report",
                              "--allow-unpinned", "-q"});
  const auto report = read_json(dir + "/asr_report/report.json");
  return {report["attacks"][0]["success_rate"].get<double>(), r.exit_code, r.output};
}

}  // namespace

TEST_CASE("audit-data on a poisoned and a clean Fashion-MNIST subset, then data.exclude",
          "[cli][poisoning]") {
  if (!std::filesystem::exists(kFmnist + "train-images-idx3-ubyte.gz")) {
    rampart::test::skip_without_fixture("Fashion-MNIST (Debian package dataset-fashion-mnist)");
    return;
  }
  const std::string dir = rampart::test::make_temp_dir("audit-data");
  // 10,000 training points, 10% of them poisoned toward class 3.
  write_bytes(dir + "/poison.yaml",
              kModel + "data: {format: idx, images: " + kFmnist + "train-images-idx3-ubyte.gz, labels: " +
                  kFmnist + "train-labels-idx1-ubyte.gz, limit: 10000}\n"
                  "poison: {attack: badnets, rate: 0.1, target: 3, seed: 1, trigger: " + kTrigger + "}\n");
  REQUIRE(run_process({rampart_binary(), "data", "poison", dir + "/poison.yaml", "--out", dir + "/p"}).exit_code == 0);
  const std::string data = "data: {format: npy, images: " + dir + "/p/images.npy, labels: " + dir +
                           "/p/labels.npy, batch_size: 64}\n";
  write_bytes(dir + "/audit.yaml", "seed: 0\n" + kModel + data + with_output(kTrain, dir + "/m") +
                                       "audit: {ground_truth: " + dir + "/p/poisoned.npy}\n");
  const auto audit = run_process({rampart_binary(), "audit-data", dir + "/audit.yaml", "--out", dir + "/a"});
  INFO(audit.output);
  REQUIRE(audit.exit_code == 0);
  const auto report = read_json(dir + "/a/audit.json");
  // At this size (10,000 points, 4 epochs) the trigger's cluster is not yet far enough apart
  // for the per-class test (docs/poisoning.md: it is at 60,000 points); what holds already is
  // that the target class has the largest split separation, and that the reports are whole.
  const auto& classes = report["detectors"][0]["classes"];
  for (const auto& c : classes) {
    if (c["label"] != 3) CHECK(c["separation"].get<double>() < classes[3]["separation"].get<double>());
  }
  CHECK(report["against_ground_truth"]["poisoned"].get<int64_t>() == 1000);
  CHECK(report["scores"]["spectral"].size() == 10000);
  for (const char* file : {"audit.md", "audit.html"}) CHECK(std::filesystem::file_size(dir + "/a/" + file) > 1000);
  // The backdoor took, and a CI gate on its success rate fails the evaluation.
  const auto [asr, code, output] = backdoor_eval(dir, dir + "/m/checkpoint.safetensors");
  INFO(output);
  CHECK(asr >= 0.8);
  CHECK(code == 1);
  CHECK_THAT(output, Catch::Contains("attack_success_rate.backdoor-patch-to-3"));

  // Retraining without the flagged points says so.
  write_bytes(dir + "/retrain.yaml",
              "seed: 0\n" + kModel + data.substr(0, data.size() - 2) + ", exclude: " + dir + "/a}\n" +
                  with_output(kTrain, dir + "/r"));
  const auto retrain = run_process({rampart_binary(), "train", dir + "/retrain.yaml", "--set", "train.epochs=1"});
  INFO(retrain.output);
  REQUIRE(retrain.exit_code == 0);
  CHECK_THAT(retrain.output, Catch::Contains("excluded:            " +
                                             std::to_string(report["flagged_count"].get<int64_t>()) +
                                             " points flagged by " + dir + "/a"));

  // The same 10,000 points unpoisoned: no class judged poisoned, at most 1% flagged.
  write_bytes(dir + "/clean.yaml",
              "seed: 0\n" + kModel + "data: {format: idx, images: " + kFmnist +
                  "train-images-idx3-ubyte.gz, labels: " + kFmnist +
                  "train-labels-idx1-ubyte.gz, limit: 10000, batch_size: 64}\n" +
                  with_output(kTrain, dir + "/c"));
  const auto clean = run_process({rampart_binary(), "audit-data", dir + "/clean.yaml", "--out", dir + "/ca"});
  REQUIRE(clean.exit_code == 0);
  const auto clean_report = read_json(dir + "/ca/audit.json");
  CHECK(clean_report["detectors"][0]["poisoned_classes"].empty());
  CHECK_THAT(clean.output, Catch::Contains("judged poisoned: no class"));
  CHECK(clean_report["flagged_count"].get<int64_t>() <= 100);
}

TEST_CASE("audit-data config errors name the key", "[cli][poisoning]") {
  const std::string dir = rampart::test::make_temp_dir("audit-data-errors");
  write_bytes(dir + "/a.yaml", kModel + "data: {format: synthetic, num_samples: 64}\n"
                                        "audit: {detectors: [spectral, magic]}\n");
  auto r = run_process({rampart_binary(), "audit-data", dir + "/a.yaml", "--out", dir + "/o"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("audit.detectors") && Catch::Contains("unknown detector 'magic'"));
  write_bytes(dir + "/b.yaml", kModel + "data: {format: synthetic, num_samples: 64}\n");
  r = run_process({rampart_binary(), "audit-data", dir + "/b.yaml", "--out", dir + "/o"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("no checkpoint and no 'train' section"));
  write_bytes(dir + "/c.yaml", "model: {path: m.pt, num_classes: 10, input: {shape: [1, 28, 28]}}\n"
                               "data: {format: synthetic, num_samples: 64}\n");
  r = run_process({rampart_binary(), "audit-data", dir + "/c.yaml", "--out", dir + "/o"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("built-in architecture"));
}
