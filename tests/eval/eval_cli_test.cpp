// rampart eval on the command line: config errors (exit 2), gates (exit 0 / 1) and junit.xml.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "core/remove_tree.h"
#include "attacks/attack_fixtures.h"
#include "eval_test_util.h"
#include "models/torchscript_export.h"
#include "security/model_intake.h"
#include "support/fixtures.h"

using namespace rampart;
using nlohmann::json;

namespace {

using rampart::test::kFmnist;

// A valid config, one key per line so that errors have predictable positions.
// clang-format off
const std::string kConfig =
    "seed: 0\n"                                                        // 1
    "model:\n"                                                         // 2
    "  arch: small_cnn\n"                                              // 3
    "  checkpoint: CKPT\n"                                             // 4
    "data:\n"                                                          // 5
    "  format: idx\n"                                                  // 6
    "  images: " + kFmnist + "t10k-images-idx3-ubyte.gz\n"             // 7
    "  labels: " + kFmnist + "t10k-labels-idx1-ubyte.gz\n"             // 8
    "  limit: 100\n"                                                   // 9
    "  batch_size: 50\n"                                               // 10
    "attacks:\n"                                                       // 11
    "  - {name: fgsm, norm: linf, eps: 0.05}\n"                        // 12
    "  - {name: pgd, norm: linf, eps: 0.05, steps: 3}\n"               // 13
    "report:\n"                                                        // 14
    "  dir: DIR/report\n"                                              // 15
    "  examples: 2\n"                                                  // 16
    "sanity: {points: 32}\n"                                           // 17
    "gates:\n"                                                         // 18
    "  clean_accuracy: {min: 0.5}\n"                                   // 19
    "  robust_accuracy: {fgsm-linf-0.05: {min: 0.0}, worst: {max: 1.0}}\n";  // 20
// clang-format on

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

// junit.xml read by Python's XML parser (an independent reader): "<tests> <failures>
// <failure elements>", or the parser's error.
std::string junit_counts(const std::string& path) {
  const auto result =
      test::run_process({"/usr/bin/python3", "-c",
                         "import sys, xml.etree.ElementTree as E\n"
                         "r = E.parse(sys.argv[1]).getroot()\n"
                         "print(r.get('tests'), r.get('failures'), len(r.findall('.//failure')))",
                         path});
  return result.output;
}

}  // namespace

TEST_CASE("eval config errors exit 2 with file:line:column and the key", "[eval][cli]") {
  const std::string dir = test::make_temp_dir("eval-config-errors");
  const std::string config = replaced(kConfig, "CKPT", dir + "/none.safetensors");
  const std::string file = dir + "/eval.yaml";
  const std::vector<std::pair<std::string, std::string>> cases{
      {config + "bogus: 1\n", ":21:1: bogus: unknown key 'bogus'"},
      {replaced(config, "eps: 0.05}", "eps: -0.1}"), ":12:35: attacks[0].eps: eps must be >= 0"},
      {replaced(config, "steps: 3", "steps: 0"), ":13:47: attacks[1].steps: must be >= 1, got 0"},
      {replaced(config,
                "  - {name: fgsm, norm: linf, eps: 0.05}\n"
                "  - {name: pgd, norm: linf, eps: 0.05, steps: 3}\n",
                "  []\n"),
       ":12:3: attacks: list at least one attack"},
      {replaced(config, "name: fgsm", "name: deepfool"),
       ":12:12: attacks[0].name: unknown value 'deepfool'"},
      {replaced(config, "fgsm, norm: linf", "fgsm, norm: l7"),
       ":12:24: attacks[0].norm: unknown value 'l7'"},
      {replaced(config, "limit: 100", "limit: many"), ":9:10: data.limit: expected an integer"},
      {replaced(config, "  examples: 2\n", "  formats: [json, pdf]\n"),
       ":16:12: report.formats: unknown format 'pdf'"},
      {replaced(config, "fgsm-linf-0.05: {min", "pgd-linf-0.3: {min"),
       ":20:21: gates.robust_accuracy.pgd-linf-0.3: unknown key 'pgd-linf-0.3'"},
      {replaced(config, "  checkpoint: " + dir + "/none.safetensors\n", ""),
       ":3:3: model: built-in architecture"},
      {replaced(config, "{points: 32}", "{points: 0}"), ":17:18: sanity.points: must be >= 1"},
      {replaced(config, "{min: 0.5}", "{min: 1.5}"),
       ":19:25: gates.clean_accuracy.min: must be <= 1, got 1.5"},
  };
  for (const auto& [yaml, expected] : cases) {
    test::write_bytes(file, yaml);
    const auto result = test::run_eval(file);
    INFO(yaml);
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Catch::Contains(file + expected));
    CHECK(result.output.find("rampart: error: ") == 0);
  }
  CHECK_FALSE(std::filesystem::exists(dir + "/report"));
}

TEST_CASE("a passing gate exits 0 and a failing gate exits 1 after every report is written",
          "[eval][cli][gates]") {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return;
  const std::string dir = test::make_temp_dir("eval-gates");
  const std::string config = replaced(kConfig, "CKPT", checkpoint);
  const std::vector<std::string> pin{"--set", "model.sha256=" + security::sha256_file(checkpoint)};

  const auto pass = test::run_eval(test::write_eval_config(dir, config), pin);
  INFO(pass.output);
  CHECK(pass.exit_code == 0);
  CHECK_THAT(pass.output, Catch::Contains("gate clean_accuracy"));
  // The gates and the sanity checks, one testcase each (probability_output, issue 16, made 9).
  CHECK(junit_counts(dir + "/report/junit.xml") == "9 0 0\n");

  // Two of three gates fail: clean accuracy cannot reach 99.9%, worst case is above 0.
  std::string failing = replaced(config, "{min: 0.5}", "{min: 0.999}");
  failing = replaced(failing, "worst: {max: 1.0}", "worst: {max: 0.0}");
  rampart::core::remove_tree(dir + "/report");
  auto fail_args = pin;
  fail_args.insert(fail_args.end(), {"--out", dir + "/r2"});
  const auto fail = test::run_eval(test::write_eval_config(dir, failing), fail_args);
  INFO(fail.output);
  CHECK(fail.exit_code == 1);
  CHECK_THAT(fail.output, Catch::Contains("2 of 3 gates failed"));
  const auto gate_line = fail.output.find("gate clean_accuracy");
  REQUIRE(gate_line != std::string::npos);
  const std::string line =
      fail.output.substr(gate_line, fail.output.find('\n', gate_line) - gate_line);
  CHECK_THAT(line, Catch::Contains(">= 0.999") && Catch::EndsWith("FAIL"));
  for (const char* name : {"report.json", "report.md", "junit.xml", "report.html"}) {
    INFO(name);
    CHECK(std::filesystem::exists(dir + "/r2/" + name));
  }
  CHECK_FALSE(std::filesystem::exists(dir + "/report"));  // --out replaced report.dir
  CHECK(junit_counts(dir + "/r2/junit.xml") == "9 2 2\n");
  const json report = test::read_json(dir + "/r2/report.json");
  CHECK(report["gates"]["failed"] == 2);
  CHECK(report["exit_code"] == 1);
  CHECK(report["gates"]["results"][0]["passed"] == false);
  CHECK(report["gates"]["results"][1]["passed"] == true);
  CHECK_THAT(test::read_json(dir + "/r2/report.json")["gates"]["results"][0]["threshold"]
                 .get<std::string>(),
             Catch::Equals(">= 0.999"));
  // The sanity checks ride along as passing testcases; --strict would turn flags into failures.
  CHECK_THAT(core::read_file(dir + "/r2/report.md"), Catch::Contains("| clean_accuracy |"));
}

// Three defects of one review: a cascaded attack's attack_success_rate gate read the attack's
// own rate (the points FGSM had fooled left out: 2.86% passed a 30% bound that 82.86% fails);
// a run into a folder kept an earlier run's report.html, junit.xml and adv/ files, which then
// contradicted it; and --out was read as YAML (`out #1` wrote to `out`, `~` to report.dir).
TEST_CASE("a cascaded success-rate gate is cumulative, a rerun leaves no earlier run's files, "
          "--out is a path as written",
          "[eval][cli][gates]") {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return;
  const std::string dir = test::make_temp_dir("eval-rerun");
  std::string config = replaced(kConfig, "CKPT", checkpoint);
  config = replaced(config, "  examples: 2\n", "  examples: 2\n  save_adversarial: true\n");
  config += "  attack_success_rate: {pgd-linf-0.05: {max: 1.0}}\n";
  const std::string out = dir + "/out #1";
  // A folder of the user's own is written into, never cleaned: only an earlier Rampart
  // report's folder is.
  test::write_bytes(out + "/images/mine.png", "not rampart's");
  test::write_bytes(out + "/report.md", "my notes");
  const std::vector<std::string> args{
      "--set", "model.sha256=" + security::sha256_file(checkpoint), "--out", out};
  const auto first = test::run_eval(test::write_eval_config(dir, config), args);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const json report = test::read_json(out + "/report.json");
  const json& pgd = report["attacks"][1];
  REQUIRE(pgd["id"] == "pgd-linf-0.05");
  REQUIRE(pgd["cumulative"] == true);
  const double clean_correct = report["clean"]["correct"].get<double>();
  const double robust_points = pgd["robust_accuracy"].get<double>() * 100;  // 100 points
  const double cumulative = (clean_correct - robust_points) / clean_correct;
  double gate_value = -1;
  for (const json& g : report["gates"]["results"]) {
    if (g["name"] == "attack_success_rate.pgd-linf-0.05") gate_value = g["value"];
  }
  CHECK(gate_value == Approx(cumulative).margin(1e-12));
  // FGSM fooled points that PGD never ran on: its own rate is lower.
  CHECK(pgd["success_rate"].get<double>() < cumulative - 0.05);
  for (const char* name : {"report.json", "report.md", "junit.xml", "report.html",
                           "adv/fgsm-linf-0.05.npy", "adv/pgd-linf-0.05.npy"}) {
    INFO(name);
    CHECK(std::filesystem::exists(out + "/" + name));
  }
  CHECK_FALSE(std::filesystem::exists(dir + "/out"));
  CHECK_FALSE(std::filesystem::exists(dir + "/report"));
  CHECK(std::filesystem::exists(out + "/images/mine.png"));  // no earlier report.json: kept
  CHECK_FALSE(std::filesystem::exists(out + "/.rampart-report"));  // nor marked as Rampart's

  // The same folder, JSON only, no adversarial examples, FGSM alone, a failing gate: nothing of
  // the first run is left to say "passed".
  std::string second = replaced(config, "  - {name: pgd, norm: linf, eps: 0.05, steps: 3}\n", "");
  second = replaced(second, "  attack_success_rate: {pgd-linf-0.05: {max: 1.0}}\n", "");
  second = replaced(second, "{min: 0.5}", "{min: 0.999}");
  auto second_args = args;
  second_args.insert(second_args.end(), {"--set", "report.formats=[json]", "--set",
                                         "report.save_adversarial=false"});
  const auto rerun = test::run_eval(test::write_eval_config(dir, second), second_args);
  INFO(rerun.output);
  CHECK(rerun.exit_code == 1);
  CHECK(test::read_json(out + "/report.json")["exit_code"] == 1);
  for (const char* name : {"report.md", "junit.xml", "report.html", "adv/fgsm-linf-0.05.npy",
                           "adv/pgd-linf-0.05.npy", "images/pgd-linf-0.05.png"}) {
    INFO(name);
    CHECK_FALSE(std::filesystem::exists(out + "/" + name));
  }

  // A run that wrote junit.xml alone (no report.json) is still known as Rampart's and cleaned:
  // its junit.xml does not stay beside the next run's report.html.
  const auto with_formats = [&](const std::string& formats) {
    auto a = args;
    a.insert(a.end(), {"--set", "report.formats=" + formats});
    return test::run_eval(test::write_eval_config(dir, config), a);
  };
  auto run = with_formats("[junit]");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  REQUIRE(std::filesystem::exists(out + "/junit.xml"));
  REQUIRE_FALSE(std::filesystem::exists(out + "/report.json"));
  run = with_formats("[html]");
  REQUIRE(run.exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(out + "/junit.xml"));
  CHECK(std::filesystem::exists(out + "/report.html"));
  // A run whose writing fails half-way (adv/ is a file) leaves no earlier document behind.
  core::remove_tree(out + "/adv");
  test::write_bytes(out + "/adv", "a file");
  run = with_formats("[junit]");
  CHECK(run.exit_code == 4);
  CHECK_FALSE(std::filesystem::exists(out + "/report.html"));
  CHECK_FALSE(std::filesystem::exists(out + "/junit.xml"));
}

TEST_CASE("an unpinned model exits 3 before any work unless allowed, and the reports say so",
          "[eval][cli][security]") {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return;
  const std::string dir = test::make_temp_dir("eval-unpinned");
  const std::string hash = security::sha256_file(checkpoint);
  const std::string config = test::write_eval_config(dir, replaced(kConfig, "CKPT", checkpoint));

  const auto refused = test::run_eval(config);
  INFO(refused.output);
  CHECK(refused.exit_code == 3);
  CHECK_THAT(refused.output, Catch::Contains(checkpoint +
                                             ": model file is not pinned (its "
                                             "SHA-256 is " +
                                             hash + ")") &&
                                 Catch::Contains("--allow-unpinned"));
  CHECK_FALSE(std::filesystem::exists(dir + "/report"));

  const auto allowed = test::run_eval(config, {"--allow-unpinned"});
  INFO(allowed.output);
  REQUIRE(allowed.exit_code == 0);
  CHECK_THAT(allowed.output, Catch::Contains("unpinned model file: " + checkpoint +
                                             " (accepted under "
                                             "security.allow_unpinned)"));
  json report = test::read_json(dir + "/report/report.json");
  CHECK(report["provenance"]["model"]["pinned"] == false);
  CHECK(report["provenance"]["model"]["files"][0]["probe"].is_null());  // a checkpoint
  CHECK(report["provenance"]["model"]["files"][0]["pinned"] == false);
  CHECK(report["provenance"]["model"]["files"][0]["verified_by"].empty());
  CHECK_THAT(core::read_file(dir + "/report/report.md"),
             Catch::Contains("**Unpinned model file** `" + checkpoint + "`"));
  CHECK_THAT(core::read_file(dir + "/report/report.html"),
             Catch::Contains("unpinned model") && Catch::Contains("UNPINNED"));

  // An allowlist in sha256sum's format vouches for the file by its hash.
  test::write_bytes(dir + "/pins", "# models we trained\n" + hash + "  " + checkpoint + "\n");
  const auto listed = test::run_eval(config, {"--set", "security.allowlist=" + dir + "/pins"});
  INFO(listed.output);
  REQUIRE(listed.exit_code == 0);
  report = test::read_json(dir + "/report/report.json");
  CHECK(report["provenance"]["model"]["pinned"] == true);
  CHECK(report["provenance"]["model"]["files"][0]["verified_by"] == json{"allowlist"});
  CHECK_THAT(core::read_file(dir + "/report/report.md"), !Catch::Contains("Unpinned"));

  // A pin that does not match rejects even when the allowlist lists the file.
  const auto wrong = test::run_eval(config, {"--set", "security.allowlist=" + dir + "/pins",
                                             "--set", "model.sha256=" + std::string(64, 'a')});
  CHECK(wrong.exit_code == 3);
  CHECK_THAT(wrong.output, Catch::Contains("but the pin is " + std::string(64, 'a')));
  // A malformed allowlist is a config error naming its line; a missing one an I/O error.
  test::write_bytes(dir + "/bad-pins", hash + "  ok\nnot-a-hash model.pt\n");
  const auto malformed =
      test::run_eval(config, {"--set", "security.allowlist=" + dir + "/bad-pins"});
  CHECK(malformed.exit_code == 2);
  CHECK_THAT(malformed.output, Catch::Contains(dir + "/bad-pins:2: not a SHA-256 line"));
  const auto missing = test::run_eval(config, {"--set", "security.allowlist=" + dir + "/none"});
  CHECK(missing.exit_code == 4);
  CHECK_THAT(missing.output, Catch::Contains(dir + "/none: cannot open the allowlist"));
  rampart::core::remove_tree(dir);
}

TEST_CASE(
    "strict mode fails Python TorchScript models that mask gradients or were saved in "
    "training mode",
    "[eval][cli][sanity][python]") {
  const std::string python = test::python_with_torch();
  if (python.empty() &&
      test::skip_without_fixture("no python3 with torch (Debian package python3-torch)")) {
    return;
  }
  auto net = test::trained_fmnist_cnn();
  if (!net) return;
  const std::string dir = test::make_temp_dir("eval-strict");
  models::export_torchscript(*net, dir + "/cnn.pt");
  // What users bring: the trained CNN wrapped in Python, once with logits scaled by 1e4 (a
  // saturated softmax: zero gradients, "robust" to every gradient attack), once with dropout
  // and saved without calling .eval().
  test::write_bytes(dir + "/wrap.py",
                    "import sys, torch\n"
                    "class Saturated(torch.nn.Module):\n"
                    "    def __init__(self, m):\n"
                    "        super().__init__()\n"
                    "        self.m = m\n"
                    "    def forward(self, x):\n"
                    "        return self.m(x) * 10000.0\n"
                    "class WithDropout(torch.nn.Module):\n"
                    "    def __init__(self, m):\n"
                    "        super().__init__()\n"
                    "        self.m = m\n"
                    "        self.drop = torch.nn.Dropout(0.5)\n"
                    "    def forward(self, x):\n"
                    "        return self.m(self.drop(x))\n"
                    "inner = torch.jit.load(sys.argv[1])\n"
                    "torch.jit.script(Saturated(inner).eval()).save(sys.argv[2])\n"
                    "torch.jit.script(WithDropout(inner)).save(sys.argv[3])\n");
  const auto made = test::run_process(
      {python, dir + "/wrap.py", dir + "/cnn.pt", dir + "/saturated.pt", dir + "/dropout.pt"});
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  std::string config =
      replaced(kConfig, "  arch: small_cnn\n  checkpoint: CKPT\n", "  path: MODEL\n");
  config = replaced(config, "gates:\n", "gates_unused:\n");
  config = config.substr(0, config.find("gates_unused:"));
  const auto flagged = [&](const std::string& model) {
    test::write_eval_config(dir, replaced(config, "MODEL", model));
    const auto result = test::run_eval(dir + "/eval.yaml", {"--strict", "--allow-unpinned"});
    INFO(result.output);
    CHECK(result.exit_code == 1);
    CHECK_THAT(result.output, Catch::Contains("sanity check(s) flagged under --strict"));
    std::set<std::string> ids;
    const json report = test::read_json(dir + "/report/report.json");
    // The TorchScript file passed the sandboxed probe, and the report says what it saw.
    const json& probe = report["provenance"]["model"]["files"][0]["probe"];
    CHECK(probe["output_shape"] == json{1, 10});
    CHECK(probe["input_shape"] == json{1, 1, 28, 28});
    CHECK(probe["ran"] == true);
    CHECK(probe["load_seconds"].get<double>() > 0);
    // The operators of the compiled graph, as the allowlist judged them.
    const auto ops = probe["operators"].get<std::vector<std::string>>();
    CHECK(std::find(ops.begin(), ops.end(), "prim::GetAttr") != ops.end());
    CHECK(std::find(ops.begin(), ops.end(), "prim::Print") == ops.end());
    for (const auto& c : report["sanity"]["checks"]) {
      if (c["flagged"].get<bool>()) ids.insert(c["id"].get<std::string>());
    }
    return ids;
  };
  CHECK(flagged(dir + "/saturated.pt") == std::set<std::string>{"zero_gradients", "large_eps"});
  CHECK(flagged(dir + "/dropout.pt") == std::set<std::string>{"eval_mode"});
}
