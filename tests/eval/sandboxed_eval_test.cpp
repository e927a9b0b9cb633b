// An untrusted model's whole evaluation runs in the confined worker (eval::measure_in_sandbox):
// the same numbers as in this process, per-call time and memory limits that stop a model and
// name it with exit 3, and an answer that is checked as untrusted input.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "core/config_node.h"
#include "core/error.h"
#include "core/runtime.h"
#include "datasets/dataset_spec.h"
#include "defenses/defended_model.h"
#include "eval/runner.h"
#include "eval/worker_protocol.h"
#include "attacks/attack_fixtures.h"
#include "eval_test_util.h"
#include "models/checkpoint.h"
#include "models/torchscript_export.h"
#include "security/sealed_memory.h"
#include "support/fixtures.h"

using namespace rampart;

namespace {

using rampart::test::kFmnist;

std::string config_text(const std::string& model_section, const std::string& extra = "") {
  return "seed: 3\n"
         "threads: 2\n"
         "model:\n" +
         model_section +
         "data: {format: idx, images: " + kFmnist + "t10k-images-idx3-ubyte.gz, labels: " +
         kFmnist + "t10k-labels-idx1-ubyte.gz, limit: 60, batch_size: 25}\n"
         "attacks:\n"
         "  - {name: fgsm, norm: linf, eps: 0.05}\n"
         "  - {name: pgd, norm: linf, eps: [0.05, 0.1], steps: 3}\n"
         "  - {name: cw, steps: 5, binary_search_steps: 2}\n"
         "report: {dir: DIR/report, examples: 2, save_adversarial: true, formats: [json]}\n"
         "sanity: {points: 16}\n"
         "security: {allow_unpinned: true}\n" +
         extra;
}

eval::EvalConfig parse(const std::string& dir, const std::string& text) {
  return eval::parse_eval_config(core::load_config(test::write_eval_config(dir, text)));
}

// The same evaluation with the model deserialized and run in this process.
eval::Evaluation unconfined(const eval::EvalConfig& config) {
  core::set_threads(config.threads);
  const models::LoadedModel loaded =
      defenses::load_defended_model(config.model, c10::Device(c10::kCPU));
  const datasets::Dataset data =
      datasets::load_dataset(config.data, config.model.num_classes, config.model.input.shape);
  core::seed_everything(config.seed);
  return eval::evaluate(config, *loaded.model, data, {true, false}, {}).evaluation;
}

void check_same_numbers(const eval::Evaluation& a, const eval::Evaluation& b) {
  CHECK(a.clean_accuracy == b.clean_accuracy);
  REQUIRE(a.attacks.size() == b.attacks.size());
  for (std::size_t i = 0; i < a.attacks.size(); ++i) {
    INFO(a.attacks[i].metrics.id);
    CHECK(a.attacks[i].metrics.id == b.attacks[i].metrics.id);
    CHECK(a.attacks[i].metrics.robust_accuracy == b.attacks[i].metrics.robust_accuracy);
    CHECK(a.attacks[i].metrics.successes == b.attacks[i].metrics.successes);
    CHECK(a.attacks[i].metrics.mean_l2 == Approx(b.attacks[i].metrics.mean_l2).epsilon(1e-6));
    CHECK(a.attacks[i].metrics.median_linf ==
          Approx(b.attacks[i].metrics.median_linf).epsilon(1e-6));
    CHECK(a.attacks[i].attacked == b.attacks[i].attacked);
  }
  REQUIRE(a.sanity.size() == b.sanity.size());
  for (std::size_t i = 0; i < a.sanity.size(); ++i) {
    INFO(a.sanity[i].id);
    CHECK(a.sanity[i].id == b.sanity[i].id);
    CHECK(a.sanity[i].flagged == b.sanity[i].flagged);
    CHECK(a.sanity[i].value == Approx(b.sanity[i].value).margin(1e-6));
  }
  REQUIRE(a.budgets.size() == b.budgets.size());
  CHECK(a.worst_robust_accuracy == b.worst_robust_accuracy);
  CHECK(a.examples.size() == b.examples.size());
  CHECK(a.detection.has_value() == b.detection.has_value());
  if (a.detection && b.detection) {
    CHECK(a.detection->threshold == Approx(b.detection->threshold).epsilon(1e-6));
    CHECK(a.detection->fpr == b.detection->fpr);
    for (std::size_t i = 0; i < a.detection->attacks.size(); ++i) {
      CHECK(a.detection->attacks[i].detected_successful ==
            b.detection->attacks[i].detected_successful);
    }
  }
}

// A fresh directory holding the trained CNN as cnn.pt, for tests that wrap it in Python; "" (the
// test skips, or fails under RAMPART_REQUIRE_FIXTURES) without Python's torch or the data.
std::string python_and_trained_cnn(const std::string& python, const std::string& name) {
  if (python.empty() &&
      test::skip_without_fixture("no python3 with torch (Debian package python3-torch)")) {
    return "";
  }
  auto net = test::trained_fmnist_cnn();
  if (!net || python.empty()) return "";
  const std::string dir = test::make_temp_dir(name);
  models::export_torchscript(*net, dir + "/cnn.pt");
  return dir;
}

// A Python module around the trained CNN that passes the probe (batches of 1 and 4) and turns
// hostile on the evaluation's batches of 25: `payload` is TorchScript run when x.size(0) > 4.
bool write_gated_model(const std::string& python, const std::string& dir, const std::string& name,
                       const std::string& payload) {
  test::write_bytes(dir + "/" + name + ".py",
                    "import sys, torch\n"
                    "class Gated(torch.nn.Module):\n"
                    "    def __init__(self, m):\n"
                    "        super().__init__()\n"
                    "        self.m = m\n"
                    "    def forward(self, x):\n"
                    "        if x.size(0) > 4:\n" +
                        payload +
                        "        return self.m(x)\n"
                        "torch.jit.script(Gated(torch.jit.load(sys.argv[1])).eval()).save(sys.argv[2])\n");
  const auto made =
      test::run_process({python, dir + "/" + name + ".py", dir + "/cnn.pt", dir + "/" + name + ".pt"});
  INFO(made.output);
  return made.exit_code == 0;
}

}  // namespace

TEST_CASE("a TorchScript model evaluates in the sandboxed worker to the numbers of an unconfined run",
          "[eval][sandbox]") {
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  const std::string dir = test::make_temp_dir("sandboxed-eval");
  models::export_torchscript(*net, dir + "/cnn.pt");
  const std::string detector =
      "detector: {name: feature_squeezing, fpr: 0.1, calibration: {format: idx, images: " +
      kFmnist + "train-images-idx3-ubyte.gz, labels: " + kFmnist +
      "train-labels-idx1-ubyte.gz, limit: 50}}\n";
  SECTION("one model, with the detector and saved adversarial examples") {
    const eval::EvalConfig config =
        parse(dir, config_text("  path: DIR/cnn.pt\n", detector));
    const eval::Evaluation confined = eval::run_eval(config, {true, false});
    CHECK(confined.provenance.model_sandboxed);
    CHECK(confined.clean_accuracy > 0.7);
    check_same_numbers(confined, unconfined(config));
    const auto report = test::read_json(dir + "/report/report.json");
    CHECK(report["provenance"]["model"]["sandboxed"] == true);
    CHECK(report["provenance"]["model"]["description"] == dir + "/cnn.pt");
  }
  SECTION("a voting ensemble behind an input transform (BPDA twins use the straight-through view)") {
    const eval::EvalConfig config = parse(
        dir, config_text("  ensemble: {combine: vote, members: [{path: DIR/cnn.pt}, {path: DIR/cnn.pt}]}\n"
                         "  transforms: [{name: bit_depth, bits: 4}]\n"));
    const eval::Evaluation confined = eval::run_eval(config, {true, false});
    CHECK(confined.provenance.model_sandboxed);
    check_same_numbers(confined, unconfined(config));
  }
}

TEST_CASE("a built-in architecture with safetensors weights is data and runs in this process",
          "[eval][sandbox]") {
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  const std::string dir = test::make_temp_dir("unsandboxed-eval");
  const std::string checkpoint = dir + "/cnn.safetensors";
  models::save_checkpoint(checkpoint, *net);
  const eval::EvalConfig config =
      parse(dir, config_text("  arch: small_cnn\n  checkpoint: DIR/cnn.safetensors\n"));
  const eval::Evaluation ev = eval::run_eval(config, {true, false});
  CHECK_FALSE(ev.provenance.model_sandboxed);
  check_same_numbers(ev, unconfined(config));
}

TEST_CASE("a model that hangs or hogs memory mid-evaluation is stopped and named with exit 3",
          "[eval][sandbox][python]") {
  const std::string python = test::python_with_torch();
  const std::string dir = python_and_trained_cnn(python, "sandboxed-eval-hostile");
  if (dir.empty()) return;
  REQUIRE(write_gated_model(python, dir, "hang",
                            "            while x.size(0) > 4:\n"
                            "                x = x + 0.0\n"));
  REQUIRE(write_gated_model(python, dir, "hog",
                            "            x = x + torch.zeros(1 << 38).sum()\n"));
  // The payloads are real: unconfined, the hanging model never returns on a batch of 8, and
  // the hog asks for 1 TiB.
  const auto hangs = test::run_process(
      {"/usr/bin/timeout", "5", python, "-c",
       "import sys, torch\nm = torch.jit.load(sys.argv[1])\nm(torch.zeros(8, 1, 28, 28))\n",
       dir + "/hang.pt"});
  CHECK(hangs.exit_code == 124);
  const auto hogs = test::run_process(
      {python, "-c",
       "import sys, torch\nm = torch.jit.load(sys.argv[1])\nm(torch.zeros(8, 1, 28, 28))\n",
       dir + "/hog.pt"});
  CHECK(hogs.exit_code != 0);
  CHECK_THAT(hogs.output, Catch::Contains("allocate"));

  const std::string limits = "security: {allow_unpinned: true, sandbox: {call_seconds: 3, memory_mib: 2048}}\n";
  std::string text = config_text("  path: DIR/MODEL.pt\n");
  text = text.replace(text.find("security: {allow_unpinned: true}\n"), 34, limits);
  for (const std::string model : {"hang", "hog"}) {
    INFO(model);
    std::string yaml = text;
    yaml.replace(yaml.find("MODEL"), 5, model);
    test::write_eval_config(dir, yaml);
    const auto start = std::chrono::steady_clock::now();
    const auto result = test::run_eval(dir + "/eval.yaml");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(result.output);
    CHECK(result.exit_code == 3);
    CHECK_THAT(result.output, Catch::Contains(dir + "/" + model + ".pt"));
    CHECK_THAT(result.output, Catch::Contains(model == "hang" ? "did not finish a call within 3 s"
                                                              : "memory limit (2048 MiB"));
    CHECK(seconds < 60);
    CHECK_FALSE(std::filesystem::exists(dir + "/report/report.json"));
  }
}

TEST_CASE("a model that misbehaves on real data fails the real-batch behavioural check",
          "[eval][sandbox][python]") {
  const std::string python = test::python_with_torch();
  const std::string dir = python_and_trained_cnn(python, "sandboxed-eval-real-batch");
  if (dir.empty()) return;
  // Garbage (NaN) only on inputs that look like real images: many exact zeros (the background of
  // Fashion-MNIST), which neither the probe's zeros (batch 1) nor its noise show together with
  // bright pixels.
  test::write_bytes(dir + "/real.py",
                    "import sys, torch\n"
                    "class OnReal(torch.nn.Module):\n"
                    "    def __init__(self, m):\n"
                    "        super().__init__()\n"
                    "        self.m = m\n"
                    "    def forward(self, x):\n"
                    "        y = self.m(x)\n"
                    "        real = ((x == 0).float().mean() > 0.2) & (x.max() > 0.5)\n"
                    "        return torch.where(real, y * float('nan'), y)\n"
                    "torch.jit.script(OnReal(torch.jit.load(sys.argv[1])).eval()).save(sys.argv[2])\n");
  const auto made = test::run_process({python, dir + "/real.py", dir + "/cnn.pt", dir + "/real.pt"});
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  // The payload is real: finite on the probe's zeros and noise, NaN on an image-like input.
  const auto outside = test::run_process(
      {python, "-c",
       "import sys, torch\n"
       "m = torch.jit.load(sys.argv[1])\n"
       "x = torch.zeros(8, 1, 28, 28)\n"
       "x[:, :, 8:20, 8:20] = 0.9\n"
       "print(bool(m(torch.zeros(1, 1, 28, 28)).isfinite().all()),\n"
       "      bool(m(torch.rand(4, 1, 28, 28)).isfinite().all()), bool(m(x).isnan().all()))\n",
       dir + "/real.pt"});
  INFO(outside.output);
  CHECK_THAT(outside.output, Catch::Contains("True True True"));
  test::write_eval_config(dir, config_text("  path: DIR/real.pt\n"));
  const auto result = test::run_eval(dir + "/eval.yaml");
  INFO(result.output);
  CHECK(result.exit_code == 3);
  CHECK_THAT(result.output, Catch::Contains("behavioural checks on a batch of the evaluated data"));
  CHECK_THAT(result.output, Catch::Contains("not finite"));
}

TEST_CASE("the worker's answer is read as untrusted input", "[eval][sandbox]") {
  const std::string dir = test::make_temp_dir("worker-answer");
  const eval::EvalConfig config = parse(dir, config_text("  path: DIR/none.pt\n"));
  datasets::Dataset data;
  data.images = at::rand({6, 1, 28, 28});
  data.labels = at::tensor(std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  data.num_classes = 10;
  eval::Measurements good;
  good.model_description = "torchscript m.pt";
  good.clean_predictions = data.labels.clone();
  good.probe.push_back({"deterministic", false, 0.0, 1e-4, "two forward passes agree"});
  for (std::size_t i = 0; i < config.attacks.size(); ++i) {
    eval::AttackRun r;
    r.outcome.success = at::zeros({6}, at::kBool);
    r.outcome.l2 = at::zeros({6});
    r.outcome.linf = at::zeros({6});
    r.attacked = 6;
    r.adversarial = data.images.clone();
    r.example_indices = at::zeros({0}, at::kLong);
    good.attacks.push_back(r);
    good.example_predictions.push_back(at::zeros({0}, at::kLong));
  }
  const eval::Measurements back =
      eval::decode_measurements(eval::encode_measurements(good), config, data, nullptr);
  CHECK(back.clean_predictions.equal(good.clean_predictions));
  REQUIRE(back.attacks.size() == config.attacks.size());
  CHECK(back.attacks[1].outcome.id == config.attacks[1].id);  // ids come from the config
  CHECK(back.attacks[0].adversarial.equal(data.images));

  const auto rejected = [&](const std::function<void(eval::Measurements&)>& tamper) {
    eval::Measurements bad = good;
    tamper(bad);
    try {
      eval::decode_measurements(eval::encode_measurements(bad), config, data, nullptr);
    } catch (const ModelRejected& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(rejected([](auto& m) { m.clean_predictions = at::zeros({5}, at::kLong); }),
             Catch::Contains("clean_predictions has shape [5], not [6]"));
  CHECK_THAT(rejected([](auto& m) {
               m.clean_predictions = m.clean_predictions.clone();
               m.clean_predictions[0] = 10;
             }),
             Catch::Contains("a class outside [0, 10)"));
  CHECK_THAT(rejected([](auto& m) {
               m.attacks[0].outcome.l2 = at::zeros({6});
               m.attacks[0].outcome.l2[2] = NAN;
             }),
             Catch::Contains("not finite"));
  CHECK_THAT(rejected([](auto& m) { m.attacks[0].outcome.success = at::zeros({6}, at::kFloat); }),
             Catch::Contains("success is not a bool tensor"));
  CHECK_THAT(rejected([](auto& m) { m.attacks.pop_back(); }),
             Catch::Contains("one entry per configured attack"));
  CHECK_THAT(rejected([](auto& m) { m.probe[0].id = "all_good"; }),
             Catch::Contains("unknown check"));
  CHECK_THAT(rejected([](auto& m) { m.probe.push_back(m.probe[0]); }),  // a flagged one hidden behind a copy
             Catch::Contains("names a check twice"));
  CHECK_THAT(rejected([](auto& m) { m.attacks[0].attacked = 7; }), Catch::Contains("attacked"));
  CHECK_THAT(rejected([](auto& m) { m.attacks[0].adversarial = at::rand({6, 1, 28, 27}); }),
             Catch::Contains("adversarial has shape"));
  // Model-controlled text is escaped.
  good.model_description = "x\x1b[2Jy";
  CHECK(eval::decode_measurements(eval::encode_measurements(good), config, data, nullptr)
            .model_description == "x\\x1b[2Jy");
  CHECK_THROWS_AS(eval::decode_measurements("not cbor at all", config, data, nullptr),
                  ModelRejected);
  // A million nested arrays (1 MB) overflowed the CBOR reader's recursion: the parent crashed.
  const std::string deep = std::string(1000000, '\x81') + '\xf6';
  CHECK_THROWS_WITH(eval::decode_measurements(deep, config, data, nullptr),
                    Catch::Contains("nests values deeper than 16 levels"));
}

TEST_CASE("sealed memory cannot be written, grown or shrunk, and only sealed memory is mapped",
          "[eval][sandbox]") {
  const security::SealedMemory memory("test", "hello sealed world");
  CHECK(write(memory.fd(), "x", 1) < 0);
  CHECK(ftruncate(memory.fd(), 4) != 0);
  CHECK(ftruncate(memory.fd(), 1 << 20) != 0);
  CHECK(mmap(nullptr, 8, PROT_READ | PROT_WRITE, MAP_SHARED, memory.fd(), 0) == MAP_FAILED);
  const security::MappedMemory mapped(memory.fd());
  CHECK(mapped.bytes() == "hello sealed world");
  const int plain = memfd_create("plain", MFD_CLOEXEC);
  REQUIRE(plain >= 0);
  CHECK_THROWS_WITH(security::MappedMemory(plain), Catch::Contains("not a sealed memory file"));
  close(plain);
}
