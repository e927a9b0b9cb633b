// `rampart eval` with a distributed: section: 4 launched worker processes share the points and
// rank 0 writes one report, which must be a one-process run's point by point. Each rank attacks
// its points in batches of other sizes than one process does; with the reference BLAS the
// results are bit-identical, with OpenBLAS (whose products round by shape) equal to float
// rounding: the same counts, adversarial inputs within 1e-5 (measured: 1.8e-7).
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attacks/attack_fixtures.h"
#include "core/atomic_file.h"
#include "datasets/npy.h"
#include "eval/measurement.h"
#include "models/torchscript_export.h"
#include "security/model_intake.h"
#include "support/fixtures.h"
#include "support/test_support.h"

using namespace rampart;
using nlohmann::json;

namespace {

using rampart::test::kFmnist;

std::string eval_yaml(const std::string& model, const std::string& report_dir,
                      const std::string& distributed) {
  return "seed: 5\nthreads: 1\n"
         "model:\n" + model +
         "data: {format: idx, images: " + kFmnist + "t10k-images-idx3-ubyte.gz, labels: " + kFmnist +
         "t10k-labels-idx1-ubyte.gz, offset: 100, limit: 90, batch_size: 16}\n"
         "attacks:\n"
         "  - {name: fgsm, norm: linf, eps: 0.05}\n"
         "  - {name: pgd, norm: linf, eps: 0.05, steps: 10, restarts: 2}\n"
         "  - {name: pgd, norm: l2, eps: 1.0, steps: 10, early_stop: false}\n"
         "  - {name: cw, steps: 10, binary_search_steps: 2, initial_const: 0.1, lr: 0.05}\n"
         "cascade: true\n"
         "report: {dir: " + report_dir + ", save_adversarial: true, examples: 5, "
         "formats: [json, markdown]}\n"
         "sanity: {points: 40}\n"
         "gates: {clean_accuracy: {min: 0.5}, robust_accuracy: {worst-linf-0.05: {min: 0.0}}}\n" +
         distributed;
}

// report.json without what differs between two honest runs: provenance (times, ranks, config
// hash), every duration, and the sample counts, which depend on how the points fall into
// batches (CW's early abort stops a batch once every point in it has stalled: 1212 backward
// samples in one process, 1191 in four, on the same per-point results).
json comparable(json report) {
  report.erase("provenance");
  for (json& a : report["attacks"]) {
    a.erase("seconds");
    a.erase("forward_samples");
    a.erase("backward_samples");
  }
  return report;
}

// The first place where two reports differ: another key, type, count, string or integer, or a
// float more than 1e-6 apart relative to its size; empty when they agree.
std::string first_difference(const json& a, const json& b, const std::string& at = "") {
  if (a.is_number_float() || b.is_number_float()) {
    if (!a.is_number() || !b.is_number()) return at + ": a number and a " + b.type_name();
    const double x = a.get<double>(), y = b.get<double>();
    const bool close = std::abs(x - y) <= 1e-6 * std::max(std::abs(x), std::abs(y)) + 1e-12;
    return close ? "" : at + ": " + a.dump() + " vs " + b.dump();
  }
  if (a.type() != b.type() || a.size() != b.size())
    return at + ": " + a.dump(-1).substr(0, 200) + " vs " + b.dump(-1).substr(0, 200);
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key())) return at + "." + it.key() + ": missing";
      const std::string d = first_difference(it.value(), b[it.key()], at + "." + it.key());
      if (!d.empty()) return d;
    }
    return "";
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      const std::string d = first_difference(a[i], b[i], at + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    return "";
  }
  return a == b ? "" : at + ": " + a.dump() + " vs " + b.dump();
}

void check_same_report(const std::string& one, const std::string& four) {
  const json a = json::parse(core::read_file(one + "/report.json"));
  const json b = json::parse(core::read_file(four + "/report.json"));
  CHECK(a["provenance"]["ranks"] == 1);
  CHECK(b["provenance"]["ranks"] == 4);
  CHECK(first_difference(comparable(a), comparable(b)) == "");
  REQUIRE(a["attacks"].size() == 4);
  for (const json& attack : a["attacks"]) {
    const std::string id = attack["id"];
    INFO(id);
    // Per point: the same adversarial inputs (byte for byte with the reference BLAS).
    const at::Tensor x1 = datasets::read_npy(one + "/adv/" + id + ".npy");
    const at::Tensor x4 = datasets::read_npy(four + "/adv/" + id + ".npy");
    REQUIRE(x1.sizes() == x4.sizes());
    CHECK((x1 - x4).abs().max().item<double>() <= 1e-5);
  }
  // The sanity probes ran once, on the same points, with the same verdicts.
  CHECK(first_difference(a["sanity"], b["sanity"]) == "");
}

// Evaluates `model` in one process (report in DIR/one) and with 4 launched workers (DIR/four),
// checks both succeed and that the reports agree point by point; returns the 4-worker report.
json evaluate_both_ways(const std::string& dir, const std::string& model) {
  test::write_bytes(dir + "/one.yaml", eval_yaml(model, dir + "/one", ""));
  test::write_bytes(dir + "/four.yaml", eval_yaml(model, dir + "/four", "distributed: {workers: 4}\n"));
  const auto one = test::run_process({test::rampart_binary(), "eval", dir + "/one.yaml", "-q"});
  INFO(one.output);
  REQUIRE(one.exit_code == 0);
  const auto four = test::run_process({test::rampart_binary(), "eval", dir + "/four.yaml", "-q"});
  INFO(four.output);
  REQUIRE(four.exit_code == 0);
  CHECK(four.output.find("launched 4 workers") != std::string::npos);
  CHECK(std::filesystem::exists(dir + "/four/worker3.log"));
  check_same_report(dir + "/one", dir + "/four");
  return json::parse(core::read_file(dir + "/four/report.json"));
}

}  // namespace

TEST_CASE("rampart eval with 4 workers writes the one-process report point by point",
          "[distributed][eval][processes]") {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return;
  SECTION("a built-in architecture (runs in each rank's process)") {
    const std::string model = "  arch: small_cnn\n  checkpoint: " + checkpoint +
                              "\n  sha256: " + security::sha256_file(checkpoint) + "\n";
    const json report = evaluate_both_ways(test::make_temp_dir("dist-eval"), model);
    CHECK(report["provenance"]["model"]["sandboxed"] == false);
  }
  SECTION("a TorchScript model (each rank runs it in its own sandboxed worker)") {
    const std::string dir = test::make_temp_dir("dist-eval-ts");
    auto net = test::trained_fmnist_cnn();
    REQUIRE(net);
    models::export_torchscript(*net, dir + "/cnn.pt");
    const std::string model = "  path: " + dir + "/cnn.pt\n  sha256: " +
                              security::sha256_file(dir + "/cnn.pt") +
                              "\n  num_classes: 10\n  input: {shape: [1, 28, 28], range: [0.0, 1.0]}\n";
    const json report = evaluate_both_ways(dir, model);
    CHECK(report["provenance"]["model"]["sandboxed"] == true);
  }
}

TEST_CASE("rampart eval, distributed: training keys and nccl are refused with the key named",
          "[distributed][eval][config]") {
  const std::string dir = test::make_temp_dir("dist-eval-config");
  const std::string model = "  path: " + dir +
                            "/absent.pt\n  num_classes: 10\n  input: {shape: [1, 28, 28], range: [0.0, 1.0]}\n";
  test::write_bytes(dir + "/agg.yaml",
                    eval_yaml(model, dir + "/r", "distributed: {workers: 2, aggregator: {name: mean}}\n"));
  const auto agg = test::run_process({test::rampart_binary(), "eval", dir + "/agg.yaml", "-q"});
  CHECK(agg.exit_code == 2);
  CHECK(agg.output.find("distributed.aggregator: is a training key (rampart train); an evaluation "
                        "shares only its points") != std::string::npos);
  test::write_bytes(dir + "/nccl.yaml",
                    eval_yaml(model, dir + "/r", "distributed: {workers: 2, backend: nccl}\n"));
  const auto nccl = test::run_process({test::rampart_binary(), "eval", dir + "/nccl.yaml", "-q"});
  CHECK(nccl.exit_code == 2);
  CHECK(nccl.output.find("distributed.backend: an evaluation exchanges its results once") !=
        std::string::npos);
}

TEST_CASE("merge_measurements refuses parts with a gap, an overlap or other clean predictions",
          "[distributed][eval]") {
  eval::EvalConfig config;
  const auto part = [](std::vector<int64_t> predictions) {
    eval::Measurements m;
    m.clean_predictions = at::tensor(predictions, at::kLong);
    return m;
  };
  const std::vector<eval::Measurements> two{part({1, 2, 3, 4}), part({1, 2, 3, 4})};
  const auto scope = [](int64_t begin, int64_t end, bool probes) {
    eval::MeasureScope s;
    s.begin = begin;
    s.end = end;
    s.sanity_probes = probes;
    return s;
  };
  CHECK_NOTHROW(eval::merge_measurements(config, two, {scope(0, 2, true), scope(2, 4, false)}));
  CHECK_THROWS_WITH(eval::merge_measurements(config, two, {scope(0, 2, true), scope(3, 4, false)}),
                    Catch::Contains("part 1 covers [3, 4) where point 2 comes next"));
  CHECK_THROWS_WITH(eval::merge_measurements(config, two, {scope(0, 3, true), scope(2, 4, false)}),
                    Catch::Contains("part 1 covers [2, 4) where point 3 comes next"));
  CHECK_THROWS_WITH(eval::merge_measurements(config, two, {scope(0, 2, true), scope(2, 3, false)}),
                    Catch::Contains("the parts end at point 3 of 4"));
  CHECK_THROWS_WITH(
      eval::merge_measurements(config, {part({1, 2, 3, 4}), part({1, 2, 0, 4})},
                               {scope(0, 2, true), scope(2, 4, false)}),
      Catch::Contains("part 1 predicted the clean points differently"));
}
