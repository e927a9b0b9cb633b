// `rampart eval` on defended models: an ensemble is one model wherever a model is, a model
// behind JPEG gets BPDA twins that expose its masking, and the detector reports its measured
// false-positive rate and a detection rate per attack.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>

#include "attacks/attack_fixtures.h"
#include "defenses/input_transforms.h"
#include "eval_test_util.h"
#include "security/model_intake.h"
#include "support/fixtures.h"

using namespace rampart;
using nlohmann::json;

namespace {

using rampart::test::kFmnist;

std::string data_yaml(int64_t offset, int64_t limit) {
  return "{format: idx, images: " + kFmnist + "t10k-images-idx3-ubyte.gz, labels: " + kFmnist +
         "t10k-labels-idx1-ubyte.gz, offset: " + std::to_string(offset) +
         ", limit: " + std::to_string(limit) + ", batch_size: 100}";
}

std::string yaml(const std::string& model, const std::string& extra) {
  return "seed: 1\nmodel: " + model + "\ndata: " + data_yaml(0, 200) +
         "\n"
         "attacks:\n"
         "  - {name: fgsm, eps: 0.1}\n"
         "  - {name: pgd, eps: 0.1, steps: 10}\n"
         "cascade: false\n"
         "report: {dir: DIR/report, formats: [json, markdown, html], examples: 0}\n"
         "sanity: {points: 32}\n" +
         extra;
}

const json& attack(const json& report, const std::string& id) {
  for (const auto& a : report["attacks"]) {
    if (a["id"] == id) return a;
  }
  FAIL("no attack " << id << " in the report");
  static const json none;
  return none;
}

}  // namespace

TEST_CASE("rampart eval: an ensemble of three copies is the model itself",
          "[eval][defenses][ensemble]") {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return;
  const std::string single_dir = test::make_temp_dir("eval-single");
  const std::string member = "{arch: small_cnn, checkpoint: " + checkpoint +
                             ", sha256: " + security::sha256_file(checkpoint) + "}";
  auto single = test::run_eval(test::write_eval_config(single_dir, yaml(member, "")));
  REQUIRE(single.exit_code == 0);
  for (const std::string combine : {"logits", "probabilities", "vote"}) {
    INFO(combine);
    const std::string dir = test::make_temp_dir("eval-ensemble");
    const std::string model = "{ensemble: {combine: " + combine + ", members: [" + member + ", " +
                              member + ", " + member + "]}}";
    auto result = test::run_eval(test::write_eval_config(dir, yaml(model, "")));
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    const json report = test::read_json(dir + "/report/report.json");
    const json expected = test::read_json(single_dir + "/report/report.json");
    CHECK(report["clean"]["accuracy"] == expected["clean"]["accuracy"]);
    CHECK(report["provenance"]["model"]["files"].size() == 3);
    const std::string description = report["provenance"]["model"]["description"];
    CHECK(description.find("ensemble of 3") != std::string::npos);
    CHECK((description.find("averaged-logits surrogate") != std::string::npos) ==
          (combine == "vote"));
    // Identical members: the same attack finds the same points (FGSM is deterministic).
    CHECK(attack(report, "fgsm-linf-0.1")["robust_accuracy"].get<double>() ==
          Approx(attack(expected, "fgsm-linf-0.1")["robust_accuracy"].get<double>()).margin(0.011));
  }
}

TEST_CASE("rampart eval: BPDA lowers robust accuracy behind JPEG, median and bit depth",
          "[eval][defenses][transforms]") {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return;
  std::vector<std::string> transforms{"{name: bit_depth, bits: 2}", "{name: median, size: 2}"};
  if (defenses::jpeg_available()) transforms.push_back("{name: jpeg, quality: 50}");
  for (const auto& transform : transforms) {
    INFO(transform);
    const std::string dir = test::make_temp_dir("eval-transform");
    const std::string model = "{arch: small_cnn, checkpoint: " + checkpoint +
                              ", sha256: " + security::sha256_file(checkpoint) + ", transforms: [" +
                              transform + "]}";
    auto result = test::run_eval(test::write_eval_config(dir, yaml(model, "")));
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    const json report = test::read_json(dir + "/report/report.json");
    REQUIRE(report["attacks"].size() == 4);
    const json& plain = attack(report, "pgd-linf-0.1");
    const json& bpda = attack(report, "pgd-linf-0.1-bpda");
    CHECK(plain["bpda"] == false);
    CHECK(bpda["bpda"] == true);
    const double plain_robust = plain["robust_accuracy"];
    const double bpda_robust = bpda["robust_accuracy"];
    INFO("PGD robust without BPDA " << plain_robust << ", with " << bpda_robust);
    CHECK(bpda_robust < plain_robust - 0.2);
    CHECK(report["worst_robust_accuracy"].get<double>() <= bpda_robust);
    bool zero_gradients_flagged = false;
    for (const auto& c : report["sanity"]["checks"]) {
      if (c["id"] == "zero_gradients") zero_gradients_flagged = c["flagged"];
    }
    CHECK(zero_gradients_flagged);
  }
}

TEST_CASE("rampart eval: behind Gaussian noise, an APGD entry with EOT draws ten gradients a step, no BPDA twins",
          "[eval][defenses][transforms][eot]") {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return;
  const std::string dir = test::make_temp_dir("eval-noise");
  const std::string model = "{arch: small_cnn, checkpoint: " + checkpoint +
                            ", sha256: " + security::sha256_file(checkpoint) +
                            ", transforms: [{name: gaussian_noise, sigma: 0.25}]}";
  const std::string config =
      "seed: 1\nmodel: " + model + "\ndata: " + data_yaml(0, 100) +
      "\n"
      "attacks:\n"
      "  - {name: apgd-ce, eps: 0.05, steps: 20}\n"
      "  - {name: apgd-ce, eps: 0.05, steps: 20, eot_samples: 10, tag: eot}\n"
      "cascade: false\n"
      "report: {dir: DIR/report, formats: [json], examples: 0}\n"
      "sanity: {points: 32}\n";
  auto result = test::run_eval(test::write_eval_config(dir, config));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const json report = test::read_json(dir + "/report/report.json");
  REQUIRE(report["attacks"].size() == 2);  // noise has an exact gradient: no -bpda twins
  const double plain = attack(report, "apgd-ce-linf-0.05")["robust_accuracy"];
  const double eot = attack(report, "apgd-ce-linf-0.05-eot")["robust_accuracy"];
  INFO("APGD-CE robust without EOT " << plain << ", with EOT over 10 draws " << eot);
  // The entry reaches the attack: ten gradient draws per step, for every attacked point and
  // every step (with EOT no point leaves early: the reference attacks them all to the end).
  const json& with_eot = attack(report, "apgd-ce-linf-0.05-eot");
  CHECK(with_eot["backward_samples"].get<int64_t>() == with_eot["attacked"].get<int64_t>() * 10 * 21);
  CHECK(attack(report, "apgd-ce-linf-0.05")["backward_samples"].get<int64_t>() <=
        with_eot["attacked"].get<int64_t>() * 21);
  // A point's verdict is one noise draw, so on 100 points robust accuracy varies by about 0.05
  // from seed to seed: seeds 1 to 4 measured 0.57/0.56, 0.55/0.50, 0.53/0.49, 0.63/0.49 without
  // and with EOT (an AMD EPYC; an Intel machine measured 0.57/0.53 at seed 1). That EOT attacks
  // better is asserted where it can be measured, on the error rate over 64 draws
  // (tests/attacks/fashion_mnist_attacks_test.cpp); here it must at least not be weaker beyond
  // that noise (an EOT that lost its gradient would sit near the 0.74 clean accuracy).
  CHECK(eot <= plain + 0.1);
  bool randomised_flagged = false;
  for (const auto& c : report["sanity"]["checks"]) {
    if (c["id"] == "deterministic") randomised_flagged = c["flagged"];
  }
  CHECK(randomised_flagged);
}

TEST_CASE("rampart eval: a randomised squeezer is refused, naming the key",
          "[eval][defenses][transforms]") {
  const std::string dir = test::make_temp_dir("eval-noise-squeezer");
  const std::string config =
      yaml("{arch: small_cnn, checkpoint: /nonexistent.safetensors}",
           "detector: {name: feature_squeezing, squeezers: [{name: gaussian_noise, sigma: 0.1}], "
           "calibration: " + data_yaml(5000, 100) + "}\n");
  auto result = test::run_eval(test::write_eval_config(dir, config));
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK(result.output.find("squeezer must be deterministic") != std::string::npos);
  CHECK(result.output.find("detector.squeezers") != std::string::npos);
}

// `rampart eval` of the trained Fashion-MNIST CNN on 200 test points with feature squeezing
// calibrated on `calibration`; none when the fixture model is unavailable.
namespace {

std::optional<test::ProcessResult> detector_eval(const std::string& dir, const std::string& calibration) {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return std::nullopt;
  const std::string detector =
      "detector: {name: feature_squeezing, fpr: 0.1, calibration: " + calibration + "}\n";
  return test::run_eval(
      test::write_eval_config(dir, yaml("{arch: small_cnn, checkpoint: " + checkpoint +
                                            ", sha256: " + security::sha256_file(checkpoint) + "}",
                                        detector)));
}

}  // namespace

// Calibrated on the evaluated points, the detector's clean false-positive rate is its fpr by
// construction; the report read as if measured.
TEST_CASE("rampart eval: a detector calibrated on the evaluated points is refused",
          "[eval][defenses][detector]") {
  const std::string dir = test::make_temp_dir("eval-detector-overlap");
  const auto result = detector_eval(dir, data_yaml(100, 200));
  if (!result) return;
  INFO(result->output);
  CHECK(result->exit_code == 2);
  CHECK_THAT(result->output, Catch::Contains("detector.calibration: 100 of its 200 points are "
                                            "evaluated points too"));
  CHECK_FALSE(std::filesystem::exists(dir + "/report/report.json"));
}

TEST_CASE("rampart eval: the detector reports its false-positive rate and detection rates",
          "[eval][defenses][detector]") {
  const std::string dir = test::make_temp_dir("eval-detector");
  const auto result = detector_eval(dir, data_yaml(5000, 500));
  if (!result) return;
  INFO(result->output);
  REQUIRE(result->exit_code == 0);
  const json report = test::read_json(dir + "/report/report.json");
  const json& d = report["detection"];
  REQUIRE(d.is_object());
  CHECK(d["calibration"]["points"] == 500);
  CHECK(d["calibration"]["fpr"].get<double>() == Approx(0.1).margin(1e-9));  // 50 of 500
  CHECK(d["fpr"].get<double>() < 0.1 + 4 * std::sqrt(0.1 * 0.9 / 200));
  CHECK(d["adaptive"] == false);
  REQUIRE(d["attacks"].size() == 2);
  for (const auto& a : d["attacks"]) {
    const json& metrics = attack(report, a["attack"]);
    CHECK(a["successful"] == metrics["successes"]);
    CHECK(a["detected_successful"].get<int64_t>() <= a["successful"].get<int64_t>());
    CHECK(a["robust_or_detected"].get<double>() >= metrics["robust_accuracy"].get<double>());
    CHECK(a["robust_or_detected"].get<double>() <= report["clean"]["accuracy"].get<double>());
  }
  // Feature squeezing catches a good share of plain PGD examples on this model.
  CHECK(d["attacks"][1]["detection_rate"].get<double>() > 0.3);
  const std::string markdown = core::read_file(dir + "/report/report.md");
  CHECK(markdown.find("## Detector: feature squeezing: bit_depth(bits=1), median(size=2)") !=
        std::string::npos);
}
