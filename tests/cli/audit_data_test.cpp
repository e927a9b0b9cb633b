// `rampart audit-data` end to end on 10,000 Fashion-MNIST points (the CI-sized version of
// docs/poisoning.md's measurement): the poisons found without being told the target or the rate,
// the reports, a retraining with data.exclude that removes the backdoor, an unpoisoned set left
// alone, and the flagged points relabelled (data relabel, data.relabel) instead of dropped.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "datasets/idx_reader.h"
#include "datasets/npy.h"
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
// At (0, 0), where no class's garments reach (docs/poisoning.md, the quiet positions). At (1, 12),
// where tops reach, this 10,000-point 4-epoch model learns the trigger (ASR >= 80%) but its
// poisons stand apart too little for the per-class test (split separation 6.7, p 0.05; at
// (0, 0): 19.7, p 1.5e-59).
const std::string kTrigger = "{type: patch, size: 3, row: 0, col: 0, value: 1.0}";

std::string with_output(std::string text, const std::string& out) {
  text.replace(text.find("OUT"), 3, out);
  return text;
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(rampart::core::read_file(path));
}

// The backdoor's attack success rate as `rampart eval`'s backdoor entry measures it on the
// first 2,000 test images, under a gate of at most 20%: (ASR, exit code, output, clean accuracy).
// The report goes to DIR/NAME.
std::tuple<double, int, std::string, double> backdoor_eval(const std::string& dir,
                                                           const std::string& checkpoint,
                                                           const std::string& name = "asr_report") {
  const std::string eval = dir + "/" + name + ".yaml";
  write_bytes(eval, "model: {arch: small_cnn, checkpoint: " + checkpoint +
                        ", num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
                        "data: {format: idx, images: " + kFmnist + "t10k-images-idx3-ubyte.gz, labels: " +
                        kFmnist + "t10k-labels-idx1-ubyte.gz, limit: 2000}\n"
                        "attacks: [{name: backdoor, target: 3, trigger: " + kTrigger + "}]\n"
                        "gates: {attack_success_rate: {backdoor-patch-to-3: {max: 0.2}}}\n");
  const auto r = run_process({rampart_binary(), "eval", eval, "--out", dir + "/" + name,
                              "--allow-unpinned", "-q"});
  const auto report = read_json(dir + "/" + name + "/report.json");
  return {report["attacks"][0]["success_rate"].get<double>(), r.exit_code, r.output,
          report["clean"]["accuracy"].get<double>()};
}

// The first 10,000 Fashion-MNIST training points, 10% of them poisoned toward class 3, in DIR/p.
bool poison_subset(const std::string& dir) {
  write_bytes(dir + "/poison.yaml",
              kModel + "data: {format: idx, images: " + kFmnist + "train-images-idx3-ubyte.gz, labels: " +
                  kFmnist + "train-labels-idx1-ubyte.gz, limit: 10000}\n"
                  "poison: {attack: badnets, rate: 0.1, target: 3, seed: 1, trigger: " + kTrigger + "}\n");
  return run_process({rampart_binary(), "data", "poison", dir + "/poison.yaml", "--out", dir + "/p"}).exit_code == 0;
}

// How many of the points in the ground truth `truth_npy` the sorted indices `flagged` hold.
int64_t count_found(const std::vector<int64_t>& flagged, const std::string& truth_npy) {
  const at::Tensor truth = rampart::datasets::read_npy(truth_npy).to(at::kLong).contiguous();
  int64_t found = 0;
  for (int64_t i = 0; i < truth.numel(); ++i) {
    found += std::binary_search(flagged.begin(), flagged.end(), truth[i].item<int64_t>());
  }
  return found;
}

}  // namespace

TEST_CASE("audit-data on a poisoned and a clean Fashion-MNIST subset, then data.exclude",
          "[cli][poisoning]") {
  if (!std::filesystem::exists(kFmnist + "train-images-idx3-ubyte.gz")) {
    rampart::test::skip_without_fixture("Fashion-MNIST (Debian package dataset-fashion-mnist)");
    return;
  }
  const std::string dir = rampart::test::make_temp_dir("audit-data");
  REQUIRE(poison_subset(dir));
  const std::string data = "data: {format: npy, images: " + dir + "/p/images.npy, labels: " + dir +
                           "/p/labels.npy, batch_size: 64}\n";
  write_bytes(dir + "/audit.yaml", "seed: 0\n" + kModel + data + with_output(kTrain, dir + "/m") +
                                       "audit: {ground_truth: " + dir + "/p/poisoned.npy}\n");
  const auto audit = run_process({rampart_binary(), "audit-data", dir + "/audit.yaml", "--out", dir + "/a"});
  INFO(audit.output);
  REQUIRE(audit.exit_code == 0);
  const auto report = read_json(dir + "/a/audit.json");
  // The audited data's root, which data.exclude checks (the retraining below passes it).
  CHECK(report["data"]["root"].get<std::string>().size() == 64);
  // Found without the target or the rate: class 3 alone judged poisoned, recall >= 99%, false
  // positives <= 1% of the clean points (measured: 1,000 of 1,000 and 16, 0.18%), the flagged
  // indices sorted and the ground-truth numbers computed from them.
  CHECK(report["detectors"][0]["poisoned_classes"] == nlohmann::json::array({3}));
  const std::vector<int64_t> flagged = report["flagged"].get<std::vector<int64_t>>();
  CHECK(std::is_sorted(flagged.begin(), flagged.end()));
  const int64_t found = count_found(flagged, dir + "/p/poisoned.npy");
  const auto false_positives = static_cast<int64_t>(flagged.size()) - found;
  CHECK(found >= 990);
  CHECK(false_positives <= 90);
  CHECK(report["against_ground_truth"]["poisoned"].get<int64_t>() == 1000);
  CHECK(report["against_ground_truth"]["true_positives"].get<int64_t>() == found);
  CHECK(report["against_ground_truth"]["false_positives"].get<int64_t>() == false_positives);
  CHECK(report["scores"]["spectral"].size() == 10000);
  for (const char* file : {"audit.md", "audit.html"}) CHECK(std::filesystem::file_size(dir + "/a/" + file) > 1000);
  const std::string markdown = rampart::core::read_file(dir + "/a/audit.md");
  CHECK_THAT(markdown, Catch::Contains("**Flagged: " + std::to_string(flagged.size()) + " of 10000 points"));
  CHECK_THAT(markdown, Catch::Contains("Classes judged poisoned: 3."));
  CHECK_THAT(markdown, Catch::Contains("| spectral | " + std::to_string(found) + " of 1000 ("));

  // The trained model's logits instead of its penultimate features (audit.layer: logits): no
  // training, 10-dimensional features.
  const auto logits = run_process({rampart_binary(), "audit-data", dir + "/audit.yaml", "--out", dir + "/l",
                                   "--set", "model.checkpoint=" + dir + "/m/checkpoint.safetensors",
                                   "--set", "audit.layer=logits", "--set", "security.allow_unpinned=true"});
  INFO(logits.output);
  REQUIRE(logits.exit_code == 0);
  CHECK_THAT(logits.output, !Catch::Contains("model.checkpoint is not set"));
  const auto logits_report = read_json(dir + "/l/audit.json");
  CHECK(logits_report["features"]["layer"] == "logits");
  CHECK(logits_report["features"]["dims"] == 10);
  CHECK(logits_report["model"]["trained_here"] == false);
  CHECK(logits_report["scores"]["spectral"].size() == 10000);
  // The backdoor took, and a CI gate on its success rate fails the evaluation.
  const auto [asr, code, output, poisoned_accuracy] = backdoor_eval(dir, dir + "/m/checkpoint.safetensors");
  INFO(output);
  CHECK(asr >= 0.95);
  CHECK(code == 1);
  CHECK_THAT(output, Catch::Contains("attack_success_rate.backdoor-patch-to-3"));

  // Retraining without the flagged points says so.
  write_bytes(dir + "/retrain.yaml",
              "seed: 0\n" + kModel + data.substr(0, data.size() - 2) + ", exclude: " + dir + "/a}\n" +
                  with_output(kTrain, dir + "/r"));
  const auto retrain = run_process({rampart_binary(), "train", dir + "/retrain.yaml"});
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

  // The backdoor is gone: the retrained model's ASR is within 1 point of the clean model's (the
  // unpoisoned audit's model, same recipe), and the gate passes; its clean accuracy is within 1.5
  // points (it saw 8,984 points, not 10,000). Measured: ASR 0.00% against the clean model's
  // 0.13% (the poisoned model's 99.94%), clean accuracy 88.00% against 88.25% (poisoned 87.90%).
  const auto [clean_asr, clean_code, clean_output, clean_accuracy] =
      backdoor_eval(dir, dir + "/c/checkpoint.safetensors", "clean_asr_report");
  const auto [retrained_asr, retrained_code, retrained_output, retrained_accuracy] =
      backdoor_eval(dir, dir + "/r/checkpoint.safetensors", "retrained_asr_report");
  INFO(retrained_output);
  CHECK(retrained_asr <= clean_asr + 0.01);
  CHECK(retrained_code == 0);
  CHECK(retrained_accuracy >= clean_accuracy - 0.015);
  CHECK(poisoned_accuracy >= clean_accuracy - 0.03);
}

TEST_CASE("audit-data finds 5% flipped labels in 10,000 Fashion-MNIST points by their margins",
          "[cli][poisoning]") {
  if (!std::filesystem::exists(kFmnist + "train-images-idx3-ubyte.gz")) {
    rampart::test::skip_without_fixture("Fashion-MNIST (Debian package dataset-fashion-mnist)");
    return;
  }
  const std::string dir = rampart::test::make_temp_dir("audit-flips");
  write_bytes(dir + "/flip.yaml",
              kModel + "data: {format: idx, images: " + kFmnist + "train-images-idx3-ubyte.gz, labels: " +
                  kFmnist + "train-labels-idx1-ubyte.gz, limit: 10000}\n"
                  "poison: {attack: label_flip, rate: 0.05, seed: 3}\n");
  REQUIRE(run_process({rampart_binary(), "data", "poison", dir + "/flip.yaml", "--out", dir + "/p"}).exit_code == 0);
  // The recipe the label-margin threshold (2.22) was chosen for: 5 epochs, weight decay, Nesterov.
  write_bytes(dir + "/audit.yaml",
              "seed: 0\n" + kModel + "data: {format: npy, images: " + dir + "/p/images.npy, labels: " + dir +
                  "/p/labels.npy, batch_size: 128}\n"
                  "train: {epochs: 5, optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4, "
                  "nesterov: true}, schedule: {name: cosine}, export_torchscript: false, output: " + dir + "/m}\n"
                  "audit: {detectors: [label_margin]}\n");
  const auto audit = run_process({rampart_binary(), "audit-data", dir + "/audit.yaml", "--out", dir + "/a"});
  INFO(audit.output);
  REQUIRE(audit.exit_code == 0);
  const auto report = read_json(dir + "/a/audit.json");
  const std::vector<int64_t> flagged = report["flagged"].get<std::vector<int64_t>>();
  const int64_t found = count_found(flagged, dir + "/p/poisoned.npy");
  const double recall = static_cast<double>(found) / 500.0;
  const double precision = static_cast<double>(found) / static_cast<double>(std::max<std::size_t>(flagged.size(), 1));
  // The issue's bar (90/90) holds on the 60,000-point model (docs/poisoning.md, "Label flips");
  // this model of 10,000 points ranks a little worse (measured 85.8% / 88.5% here; flip seeds 4
  // and 5: 85.0/86.4, 84.2/85.7).
  CHECK(recall >= 0.8);
  CHECK(precision >= 0.8);
}

TEST_CASE("data relabel gives the flagged poisons their true class, and data.relabel trains on them",
          "[cli][poisoning][relabel]") {
  if (!std::filesystem::exists(kFmnist + "train-images-idx3-ubyte.gz")) {
    rampart::test::skip_without_fixture("Fashion-MNIST (Debian package dataset-fashion-mnist)");
    return;
  }
  const std::string dir = rampart::test::make_temp_dir("data-relabel");
  REQUIRE(poison_subset(dir));
  // The ground truth as the audit (the detector's own flags are tested above): the 1,000 poisons.
  const at::Tensor poisoned = rampart::datasets::read_npy(dir + "/p/poisoned.npy").to(at::kLong);
  nlohmann::json flagged = nlohmann::json::array();
  for (int64_t i = 0; i < poisoned.numel(); ++i) flagged.push_back(poisoned[i].item<int64_t>());
  write_bytes(dir + "/a.json", nlohmann::json{{"schema", "rampart-data-audit/1"},
                                              {"data", {{"points", 10000}}},
                                              {"flagged", flagged}}.dump());
  const std::string data = "data: {format: npy, images: " + dir + "/p/images.npy, labels: " + dir +
                           "/p/labels.npy, batch_size: 64";
  write_bytes(dir + "/sanitised.yaml", "seed: 0\n" + kModel + data + ", exclude: " + dir +
                                           "/a.json}\n" + with_output(kTrain, dir + "/s"));
  auto r = run_process({rampart_binary(), "train", dir + "/sanitised.yaml", "--set", "train.epochs=3"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);

  r = run_process({rampart_binary(), "data", "relabel", dir + "/sanitised.yaml", "--model",
                   dir + "/s/checkpoint.safetensors", "--out", dir + "/relabel.json", "--allow-unpinned"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto relabel = read_json(dir + "/relabel.json");
  CHECK(relabel["schema"] == "rampart-data-relabel/1");
  const auto& relabelled = relabel["relabelled"];
  CHECK(relabelled.size() + relabel["left_out"].size() == 1000);
  CHECK(relabelled.size() >= 900);
  // The sanitised model never saw the trigger: it names most poisons' true class (858 of 992
  // measured with this 3-epoch model of 9,000 points; random labels would give about 110).
  const auto clean = rampart::datasets::read_idx(kFmnist + "train-images-idx3-ubyte.gz",
                                                 kFmnist + "train-labels-idx1-ubyte.gz", 10);
  int64_t true_class = 0;
  for (const auto& e : relabelled) {
    CHECK(e["from"] == 3);
    CHECK(e["to"] != 3);
    true_class += clean.labels[e["index"].get<int64_t>()].item<int64_t>() == e["to"].get<int64_t>();
  }
  CHECK(static_cast<double>(true_class) >= 0.7 * static_cast<double>(relabelled.size()));
  CHECK_THAT(r.output, Catch::Contains("relabelled: " + std::to_string(relabelled.size())));

  // Trained on the relabelled set, the trigger points to no class: the backdoor gate passes.
  write_bytes(dir + "/relabelled.yaml", "seed: 0\n" + kModel + data + ", relabel: " + dir +
                                            "/relabel.json}\n" + with_output(kTrain, dir + "/r"));
  r = run_process({rampart_binary(), "train", dir + "/relabelled.yaml", "--set", "train.epochs=3"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("relabelled:          " + std::to_string(relabelled.size()) +
                                       " points, " + std::to_string(relabel["left_out"].size()) +
                                       " flagged points left out, by " + dir + "/relabel.json"));
  const auto [asr, code, output, accuracy] = backdoor_eval(dir, dir + "/r/checkpoint.safetensors");
  INFO(output);
  CHECK(asr <= 0.2);
  CHECK(code == 0);

  // The relabelled model records its relabelling, not an exclusion: it is not the sanitised
  // model of the audit, and data relabel refuses it as one (it took it for a model trained
  // without the left-out points, and named the relabelling as its data.exclude).
  const std::string model_bytes = rampart::core::read_file(dir + "/r/checkpoint.safetensors");
  uint64_t header_size = 0;
  for (int b = 7; b >= 0; --b) header_size = (header_size << 8) | static_cast<unsigned char>(model_bytes[b]);
  const auto metadata = nlohmann::json::parse(model_bytes.substr(8, header_size))["__metadata__"];
  CHECK(metadata["data_relabel_left_out"] == std::to_string(relabel["left_out"].size()));
  CHECK_FALSE(metadata.contains("data_excluded_points"));
  r = run_process({rampart_binary(), "data", "relabel", dir + "/sanitised.yaml", "--model",
                   dir + "/r/checkpoint.safetensors", "--out", dir + "/again.json", "--allow-unpinned"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("trained on the relabelling " + dir + "/relabel.json"));

  // Another audit of the same data flagging as many points (other ones): the model retrained
  // without the first audit's saw the second's, and is refused for it by its data's root.
  nlohmann::json others = nlohmann::json::array();
  {
    const at::Tensor is_poison = at::zeros({10000}, at::kBool).index_fill_(0, poisoned, true);
    for (int64_t i = 0; i < 10000 && static_cast<int64_t>(others.size()) < poisoned.numel(); ++i) {
      if (!is_poison[i].item<bool>()) others.push_back(i);
    }
  }
  write_bytes(dir + "/b.json", nlohmann::json{{"schema", "rampart-data-audit/1"},
                                              {"data", {{"points", 10000}}},
                                              {"flagged", others}}.dump());
  write_bytes(dir + "/other_audit.yaml", "seed: 0\n" + kModel + data + ", exclude: " + dir + "/b.json}\n");
  r = run_process({rampart_binary(), "data", "relabel", dir + "/other_audit.yaml", "--model",
                   dir + "/s/checkpoint.safetensors", "--out", dir + "/b-relabel.json", "--allow-unpinned"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("trained on other data") &&
                           Catch::Contains("it is not the model retrained without them"));
  CHECK_FALSE(std::filesystem::exists(dir + "/b-relabel.json"));

  // Errors: no audit to relabel (exit 2), and a relabelling of other data (exit 4).
  write_bytes(dir + "/no_audit.yaml", "seed: 0\n" + kModel + data + "}\n");
  r = run_process({rampart_binary(), "data", "relabel", dir + "/no_audit.yaml", "--model",
                   dir + "/s/checkpoint.safetensors", "--out", dir + "/x.json", "--allow-unpinned"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("data") && Catch::Contains("no 'exclude'"));
  at::Tensor labels = rampart::datasets::read_npy(dir + "/p/labels.npy").to(at::kLong);
  const int64_t changed = relabelled[0]["index"].get<int64_t>();
  labels[changed] = 0;
  rampart::datasets::write_npy(dir + "/p/labels_changed.npy", labels);
  write_bytes(dir + "/other.yaml", "seed: 0\n" + kModel + "data: {format: npy, images: " + dir +
                                       "/p/images.npy, labels: " + dir + "/p/labels_changed.npy, relabel: " +
                                       dir + "/relabel.json}\n" + with_output(kTrain, dir + "/o"));
  r = run_process({rampart_binary(), "train", dir + "/other.yaml"});
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("relabel.json: made for the data with root") &&
                           Catch::Contains("it relabels other data"));

  // An audit that flagged nothing: nothing to relabel (exit 0), with the model retrained
  // without its (no) points; the model retrained without the 1,000 is refused for it (exit 2).
  write_bytes(dir + "/none.json", R"({"schema": "rampart-data-audit/1", "flagged": []})");
  write_bytes(dir + "/none.yaml", "seed: 0\n" + kModel + data + ", exclude: " + dir +
                                      "/none.json}\n" + with_output(kTrain, dir + "/n"));
  r = run_process({rampart_binary(), "train", dir + "/none.yaml", "--set", "train.epochs=1",
                   "--set", "data.limit=512"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = run_process({rampart_binary(), "data", "relabel", dir + "/none.yaml", "--model",
                   dir + "/n/checkpoint.safetensors", "--out", dir + "/none-relabel.json",
                   "--allow-unpinned", "--set", "data.limit=512"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("relabelled: 0\n"));
  const auto none = read_json(dir + "/none-relabel.json");
  CHECK(none["relabelled"].empty());
  CHECK(none["left_out"].empty());
  CHECK(none["data"]["root"].get<std::string>().size() == 64);
  r = run_process({rampart_binary(), "data", "relabel", dir + "/none.yaml", "--model",
                   dir + "/s/checkpoint.safetensors", "--out", dir + "/y.json", "--allow-unpinned"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("trained without 1000 points") &&
                           Catch::Contains("flags 0: it is not the model retrained without"));
  CHECK_FALSE(std::filesystem::exists(dir + "/y.json"));
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

// Inputs only the data or the model reveal (exit 4 naming the file), on a tiny MLP: each was an
// internal error (exit 5), a silent truncation or a false summary before.
TEST_CASE("audit-data and data relabel refuse bad ground truths, outputs and models",
          "[cli][poisoning]") {
  const std::string dir = rampart::test::make_temp_dir("audit-data-inputs");
  const std::string model = "model: {arch: mlp, num_classes: 4, input: {shape: [1, 8, 8], range: [0.0, 1.0]}}\n";
  const std::string data = "data: {format: synthetic, num_samples: 120, seed: 3";
  write_bytes(dir + "/train.yaml", "seed: 0\n" + model + data + "}\n" +
                                       "train: {epochs: 1, export_torchscript: false, output: " + dir + "/m}\n");
  auto r = run_process({rampart_binary(), "train", dir + "/train.yaml"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string checkpoint = dir + "/m/checkpoint.safetensors";
  const auto audit = [&](const std::string& name, const std::string& data_extra,
                         const std::string& audit_section, const std::string& out) {
    write_bytes(dir + "/" + name + ".yaml", model.substr(0, model.size() - 2) + ", checkpoint: " +
                                                checkpoint + "}\n" + data + data_extra + "}\n" +
                                                audit_section);
    return run_process({rampart_binary(), "audit-data", dir + "/" + name + ".yaml", "--out", out,
                        "--allow-unpinned"});
  };
  r = audit("plain", "", "", dir + "/plain");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // An audit of data with points left out would flag indices into the reduced set (exit 2).
  write_bytes(dir + "/a.json", R"({"schema": "rampart-data-audit/1", "data": {"points": 120}, "flagged": [3, 9]})");
  r = audit("excluded", ", exclude: " + dir + "/a.json", "", dir + "/o");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("'exclude' or 'relabel' in an audit config"));
  // Ground truths that are not index lists: the images, a 2-D array, an index listed twice.
  rampart::datasets::write_npy(dir + "/floats.npy", at::tensor({1.5, 2.7}, at::kDouble));
  rampart::datasets::write_npy(dir + "/square.npy", at::zeros({2, 2}, at::kLong));
  rampart::datasets::write_npy(dir + "/twice.npy", at::tensor({4, 7, 4}, at::kLong));
  for (const auto& [file, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"floats.npy", "floats.npy: expected a 1-D array of integer point indices"},
           {"square.npy", "of shape [2, 2]"},
           {"twice.npy", "twice.npy: an index is listed twice"}}) {
    r = audit("truth", "", "audit: {ground_truth: " + dir + "/" + file + "}\n", dir + "/o");
    INFO(r.output);
    CHECK(r.exit_code == 4);
    CHECK_THAT(r.output, Catch::Contains(message));
  }
  // --out where a file is: exit 4 naming it.
  write_bytes(dir + "/a-file", "x");
  r = audit("plain", "", "", dir + "/a-file");
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains(dir + "/a-file: cannot create folder"));
  // Both are found before a model is trained, not after the training.
  write_bytes(dir + "/untrained.yaml", "seed: 0\n" + model + data + "}\n" +
                                           "train: {epochs: 1, export_torchscript: false, output: " +
                                           dir + "/never}\naudit: {ground_truth: " + dir +
                                           "/missing.npy}\n");
  r = run_process({rampart_binary(), "audit-data", dir + "/untrained.yaml", "--out", dir + "/o2"});
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("missing.npy"));
  r = run_process({rampart_binary(), "audit-data", dir + "/untrained.yaml", "--out", dir + "/a-file",
                   "--set", "audit.ground_truth=null"});
  CHECK(r.exit_code == 4);
  CHECK(!std::filesystem::exists(dir + "/never"));
  // The folder is one audit's set: features saved by an earlier run do not stay beside an
  // audit that did not save them.
  r = audit("saved", "", "audit: {save_features: true}\n", dir + "/set");
  REQUIRE(r.exit_code == 0);
  REQUIRE(std::filesystem::exists(dir + "/set/features.npy"));
  r = audit("plain", "", "", dir + "/set");
  REQUIRE(r.exit_code == 0);
  CHECK(!std::filesystem::exists(dir + "/set/features.npy"));
  CHECK(std::filesystem::exists(dir + "/set/audit.json"));

  // With a manifest in the config, data relabel compared the model's root with the whole data's
  // manifest root and refused the very model retrained without the audit's points.
  write_bytes(dir + "/m.yaml", model + data + "}\n");
  r = run_process({rampart_binary(), "data", "manifest", dir + "/m.yaml", "--out", dir + "/m.json"});
  REQUIRE(r.exit_code == 0);
  write_bytes(dir + "/sanitised.yaml", "seed: 0\n" + model + data + ", manifest: " + dir +
                                           "/m.json, exclude: " + dir + "/a.json}\n" +
                                           "train: {epochs: 1, export_torchscript: false, output: " +
                                           dir + "/s}\n");
  r = run_process({rampart_binary(), "train", dir + "/sanitised.yaml"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = run_process({rampart_binary(), "data", "relabel", dir + "/sanitised.yaml", "--model",
                   dir + "/s/checkpoint.safetensors", "--out", dir + "/manifest-relabel.json",
                   "--allow-unpinned"});
  INFO(r.output);
  CHECK(r.exit_code == 0);

  // data relabel with a model whose outputs are NaN said every flagged point was "kept in its
  // label" and left out (exit 0); now refused like audit-data refuses it.
  std::string bytes = rampart::core::read_file(checkpoint);
  uint64_t header = 0;
  for (int b = 7; b >= 0; --b) header = (header << 8) | static_cast<unsigned char>(bytes[b]);
  std::fill(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header), bytes.end(), '\xff');  // NaN
  write_bytes(dir + "/nan.safetensors", bytes);
  write_bytes(dir + "/relabel.yaml", model + data + ", exclude: " + dir + "/a.json}\n");
  r = run_process({rampart_binary(), "data", "relabel", dir + "/relabel.yaml", "--model",
                   dir + "/nan.safetensors", "--out", dir + "/relabel.json", "--allow-unpinned"});
  INFO(r.output);
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("nan.safetensors: the logits of point 3 of") &&
                           Catch::Contains("are not finite"));
  CHECK_FALSE(std::filesystem::exists(dir + "/relabel.json"));
}

// What a model trained on is recorded (data_root: the points after data.exclude or relabel), and
// a resume on other points is refused (exit 4): it was accepted, and the metadata then
// described only the last run's exclusion. data.exclude and relabel are for training data only,
// and an empty path is no way to turn a check off (exit 2).
TEST_CASE("a resume on other points is refused, and exclude and relabel apply only to training data",
          "[cli][poisoning]") {
  const std::string dir = rampart::test::make_temp_dir("exclude-resume");
  const std::string model = "model: {arch: mlp, num_classes: 4, input: {shape: [1, 8, 8], range: [0.0, 1.0]}}\n";
  write_bytes(dir + "/a.json", R"({"schema": "rampart-data-audit/1", "data": {"points": 200}, "flagged": [1, 5, 9]})");
  write_bytes(dir + "/b.json", R"({"schema": "rampart-data-audit/1", "data": {"points": 200}, "flagged": [1, 5, 9, 20]})");
  write_bytes(dir + "/t.yaml", "seed: 0\n" + model +
                                   "data: {format: synthetic, num_samples: 200, seed: 3, batch_size: 32, exclude: " +
                                   dir + "/a.json}\ntrain: {epochs: 1, export_torchscript: false, output: " + dir + "/m}\n");
  auto r = run_process({rampart_binary(), "train", dir + "/t.yaml"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto root_line = r.output.find("data root:");
  REQUIRE(root_line != std::string::npos);
  const std::string root = r.output.substr(root_line + 21, 64);
  // Resumed on the same points: accepted. On the points of another audit: refused, named.
  r = run_process({rampart_binary(), "train", dir + "/t.yaml", "--set", "train.epochs=2", "--resume"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  r = run_process({rampart_binary(), "train", dir + "/t.yaml", "--set", "train.epochs=3", "--set",
                   "data.exclude=" + dir + "/b.json", "--resume"});
  INFO(r.output);
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("its epochs trained on other points (data root " + root + ")"));
  r = run_process({rampart_binary(), "train", dir + "/t.yaml", "--set", "train.epochs=3", "--set",
                   "data.exclude=null", "--resume"});
  CHECK(r.exit_code == 4);
  // exclude and relabel in a validation or evaluated data section, and empty paths: exit 2.
  r = run_process({rampart_binary(), "train", dir + "/t.yaml", "--set",
                   "validation={format: synthetic, num_samples: 50, seed: 3, exclude: " + dir + "/a.json}"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("validation.exclude: is for training data, not validation data"));
  r = run_process({rampart_binary(), "train", dir + "/t.yaml", "--set", "data.exclude=\"\""});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("--set data.exclude: is empty"));
  write_bytes(dir + "/e.yaml", model.substr(0, model.size() - 2) + ", checkpoint: " + dir +
                                   "/m/checkpoint.safetensors}\n"
                                   "data: {format: synthetic, num_samples: 200, seed: 3, exclude: " + dir + "/a.json}\n"
                                   "attacks: [{name: fgsm, eps: 0.1}]\n");
  r = run_process({rampart_binary(), "eval", dir + "/e.yaml", "--out", dir + "/report", "--allow-unpinned"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("data.exclude: is for training data, not evaluated data"));
}
