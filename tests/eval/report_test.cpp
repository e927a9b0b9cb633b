// The report files: report.html renders in a real browser (headless Chromium) without network
// access, and docs/report-schema.md documents every report.json field.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#ifdef RAMPART_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

#include "attacks/attack_fixtures.h"
#include "eval/report_format.h"
#include "eval/reports.h"
#include "eval_test_util.h"
#include "security/model_intake.h"
#include "support/fixtures.h"

using namespace rampart;
using nlohmann::json;

namespace {

using rampart::test::kFmnist;

const std::string kDetector = "detector: {fpr: 0.1, calibration: {format: idx, images: " + kFmnist +
                              "t10k-images-idx3-ubyte.gz, labels: " + kFmnist +
                              "t10k-labels-idx1-ubyte.gz, offset: 5000, limit: 100}}\n";

// A small real report (trained CNN, 100 Fashion-MNIST points, FGSM at two eps, PGD, CW, and
// AutoAttack's APGD-CE and APGD-T) in DIR/report; "" when the fixture is missing. The attacks
// are cascaded, unless `detector`: then the feature-squeezing detector runs too, and with it
// every attack on every clean-correct point (cascade: false, the default with a detector).
std::string make_report(const std::string& dir, bool detector = false) {
  const std::string checkpoint = test::trained_fmnist_checkpoint();
  if (checkpoint.empty()) return "";
  const auto config = test::write_eval_config(
      dir, "model: {arch: small_cnn, checkpoint: " + checkpoint +
               ", sha256: " + security::sha256_file(checkpoint) +
               "}\n"
               "data: {format: idx, images: " +
               kFmnist + "t10k-images-idx3-ubyte.gz, labels: " + kFmnist +
               "t10k-labels-idx1-ubyte.gz, limit: 100, batch_size: 100}\n"
               "attacks:\n"
               "  - {name: fgsm, eps: [0.03, 0.1]}\n"
               "  - {name: pgd, eps: 0.1, steps: 5}\n"
               "  - {name: cw, steps: 10, binary_search_steps: 2, initial_const: 0.1, lr: 0.05}\n"
               "  - {name: autoattack, eps: 0.1, version: custom, components: [apgd-ce, apgd-t]}\n"
               "report: {dir: DIR/report, examples: 6}\n"
               "sanity: {points: 32}\n"
               "gates: {clean_accuracy: {min: 0.5}, robust_accuracy: {worst: {max: 0.9}}}\n" +
               (detector ? kDetector : ""));
  const auto result = test::run_eval(config, {"--robustbench", dir + "/robustbench.json"});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  return dir + "/report";
}

std::string chromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

// Every field path of a JSON value: objects as `a.b`, array elements as `a[]`.
void field_paths(const json& value, const std::string& prefix, std::set<std::string>& out) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      out.insert(path);
      field_paths(child, path, out);
    }
  } else if (value.is_array()) {
    for (const auto& child : value) {
      if (child.is_object() || child.is_array()) field_paths(child, prefix + "[]", out);
    }
  }
}

}  // namespace

TEST_CASE("report.html is self-contained and renders in headless Chromium", "[eval][html]") {
  const std::string dir = test::make_temp_dir("eval-html");
  const std::string report = make_report(dir, /*detector=*/true);
  if (report.empty()) return;
  const std::string html = core::read_file(report + "/report.html");
  // No network requests and no external files: no scripts, links, remote or relative sources.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("<h2>Detector</h2>") != std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  int images = 0;
  for (const std::string attribute : {" src=\"", " href=\""}) {
    for (auto pos = html.find(attribute); pos != std::string::npos;
         pos = html.find(attribute, pos + 1)) {
      const std::string value = html.substr(pos + attribute.size(), 40);
      INFO(value);
      CHECK(value.rfind("data:image/png;base64,", 0) == 0);
      ++images;
    }
  }
#ifdef RAMPART_HAVE_OPENCV
  CHECK(images == 5);  // one example grid per attack
#else
  CHECK(images == 0);  // built without OpenCV: the report says so instead of showing grids
#endif
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("Per-class accuracy") != std::string::npos);

  const std::string browser = chromium();
  if (browser.empty()) {
    test::skip_without_fixture("chromium (Debian package chromium) for the HTML screenshot");
    return;
  }
  const std::string shot = dir + "/screenshot.png";
  const auto result = test::run_process(
      {browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
       "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + dir + "/chromium",
       "--window-size=1200,1600", "--screenshot=" + shot, "file://" + report + "/report.html"});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  REQUIRE(std::filesystem::exists(shot));
#ifdef RAMPART_HAVE_OPENCV
  const cv::Mat image = cv::imread(shot, cv::IMREAD_COLOR);
  REQUIRE_FALSE(image.empty());
  CHECK(image.cols == 1200);
  CHECK(image.rows == 1600);
  // Non-trivial: a white page with dark text, coloured badges and bars, and the chart.
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  const double dark = cv::countNonZero(gray < 128) / static_cast<double>(gray.total());
  const double white = cv::countNonZero(gray > 245) / static_cast<double>(gray.total());
  CHECK(dark > 0.01);
  CHECK(white > 0.5);
  std::vector<cv::Mat> channels;
  cv::split(image, channels);
  cv::Mat spread = cv::max(cv::max(channels[0], channels[1]), channels[2]) -
                   cv::min(cv::min(channels[0], channels[1]), channels[2]);
  CHECK(cv::countNonZero(spread > 60) > 2000);  // coloured pixels: badges, bars, chart lines
#else
  CHECK(std::filesystem::file_size(shot) > 20000);
#endif
}

TEST_CASE("docs/report-schema.md documents every report.json field", "[eval][schema]") {
  const std::string dir = test::make_temp_dir("eval-schema");
  const std::string report = make_report(dir, /*detector=*/true);
  if (report.empty()) return;
  std::set<std::string> paths;
  field_paths(test::read_json(report + "/report.json"), "", paths);
  CHECK(paths.size() > 60);
  const std::string doc =
      core::read_file(std::string(RAMPART_SOURCE_DIR) + "/docs/report-schema.md");
  for (const auto& path : paths) {
    INFO(path);
    CHECK(doc.find("`" + path + "`") != std::string::npos);
  }
}

// Issue 15, item 5: with the cascade, later attacks' columns were computed on the survivors of
// the earlier ones but read as standalone numbers.
TEST_CASE("cascaded rows say they are cumulative", "[eval][report]") {
  const std::string dir = test::make_temp_dir("eval-cascade-labels");
  const std::string report = make_report(dir);
  if (report.empty()) return;
  const json j = test::read_json(report + "/report.json");
  REQUIRE(j["attacks"].size() == 5);
  CHECK(j["attacks"][0]["cumulative"] == false);  // fgsm-linf-0.03: first at its budget
  CHECK(j["attacks"][2]["id"] == "pgd-linf-0.1");
  CHECK(j["attacks"][2]["cumulative"] == true);
  CHECK(j["attacks"][2]["after"] == json::array({"fgsm-linf-0.1"}));
  const std::string md = core::read_file(report + "/report.md");
  CHECK_THAT(md, Catch::Contains("| robust accuracy (cumulative) |") &&
                     Catch::Contains("| pgd-linf-0.1 (after fgsm-linf-0.1) |") &&
                     Catch::Contains("Its robust accuracy is cumulative"));
  const std::string html = core::read_file(report + "/report.html");
  CHECK_THAT(html, Catch::Contains("robust accuracy (cumulative)") &&
                       Catch::Contains("(after fgsm-linf-0.1)"));
}

// The detector had no per-budget number (issue 15, item 5); and with the cascade (then the
// default) a point an earlier attack fooled and the detector flagged was never attacked by the
// later ones, so "robust or detected" counted it as stopped: 39.5% against 26.5% without.
TEST_CASE("the detector has a row per budget, and runs every attack on every point",
          "[eval][report]") {
  const std::string dir = test::make_temp_dir("eval-detector-budgets");
  const std::string report = make_report(dir, /*detector=*/true);
  if (report.empty()) return;
  const json j = test::read_json(report + "/report.json");
  CHECK(j["cascade"] == false);
  for (const json& a : j["attacks"]) CHECK(a["after"].empty());
  // Per budget: a point counts when no attack of the budget fooled it with an unflagged example.
  const json& budgets = j["detection"]["budgets"];
  REQUIRE(budgets.size() == 2);
  for (std::size_t b = 0; b < 2; ++b) {
    INFO(budgets[b].dump());
    CHECK(budgets[b]["budget"] == j["budgets"][b]["key"]);
    const double value = budgets[b]["robust_or_detected"];
    CHECK(value >= j["budgets"][b]["robust_accuracy"].get<double>() - 1e-12);
    CHECK(value <= j["clean"]["accuracy"].get<double>() + 1e-12);
  }
  CHECK_THAT(core::read_file(report + "/report.md"), Catch::Contains("| **worst case** linf-0.1 |"));
  const auto cascaded = test::run_eval(dir + "/eval.yaml", {"--set", "cascade=true"});
  CHECK(cascaded.exit_code == 2);
  CHECK_THAT(cascaded.output, Catch::Contains("cascade: a detector needs cascade: false"));
}

TEST_CASE("an AutoAttack entry reports its components and a RobustBench entry", "[eval][report]") {
  const std::string dir = test::make_temp_dir("eval-autoattack");
  const std::string report = make_report(dir);
  if (report.empty()) return;
  const json j = test::read_json(report + "/report.json");
  const json& aa = j["attacks"][4];
  REQUIRE(aa["id"] == "autoattack-linf-0.1");
  CHECK(aa["after"] == json::array({"fgsm-linf-0.1", "pgd-linf-0.1"}));
  REQUIRE(aa["components"].size() == 2);
  CHECK(aa["components"][0]["id"] == "apgd-ce-linf-0.1");
  CHECK(aa["components"][1]["id"] == "apgd-t-linf-0.1");
  // The components' shares add up to the entry's successes.
  CHECK(aa["components"][0]["fooled"].get<int64_t>() + aa["components"][1]["fooled"].get<int64_t>() ==
        aa["successes"].get<int64_t>());
  REQUIRE(j["autoattack"].size() == 1);
  CHECK(j["autoattack"][0]["autoattack_acc"] == aa["robust_accuracy"]);
  CHECK(j["autoattack"][0]["clean_acc"] == j["clean"]["accuracy"]);
  CHECK(j["autoattack"][0]["points"] == 100);
  const json rb = test::read_json(dir + "/robustbench.json");
  char expected[32];
  std::snprintf(expected, sizeof(expected), "%.2f", 100 * aa["robust_accuracy"].get<double>());
  CHECK(rb["autoattack_acc"] == expected);
  CHECK(rb["eps"] == "0.1");
  CHECK(rb["norm"] == "Linf");
  const std::string md = core::read_file(report + "/report.md");
  CHECK_THAT(md, Catch::Contains("autoattack-linf-0.1 components"));
}

// 34,999 of 50,000 against ">= 0.7" was shown as "70.00% | >= 0.7 | FAIL"; a CW median of
// 1.49996 as "1.5" against ">= 1.5".
TEST_CASE("a gate's shown value never reads as the other verdict", "[eval][report]") {
  const auto result = [](std::string metric, std::optional<double> min, std::optional<double> max,
                         double value) {
    eval::Gate gate{"g", std::move(metric), min, max};
    const bool passed = (!min || value >= *min) && (!max || value <= *max);
    return eval::GateResult{gate, value, passed, ""};
  };
  CHECK(eval::detail::gate_value(result("clean", 0.7, std::nullopt, 34999.0 / 50000)) == "69.998%");
  CHECK(eval::detail::gate_value(result("clean", 0.7, std::nullopt, 0.7)) == "70.00%");
  CHECK(eval::detail::gate_value(result("clean", 0.5, std::nullopt, 0.61234)) == "61.23%");
  CHECK(eval::detail::gate_value(result("worst", std::nullopt, 0.7, 0.7)) == "70.00%");
  CHECK(eval::detail::gate_value(result("median_l2:cw-l2", 1.5, std::nullopt, 1.49996)) == "1.49996");
  CHECK(eval::detail::gate_value(result("median_l2:cw-l2", 1.0, std::nullopt, 1.49996)) == "1.5");
  CHECK(eval::detail::gate_value(result("clean", 0.7, std::nullopt, std::nan(""))) == "not measured");
}

// Paths and descriptions (some from the sandboxed worker's answer) went into report.md raw: an
// `<img src=...>` rendered, and fetched, in a CI job summary.
TEST_CASE("report.md writes free text as text, never markup", "[eval][report]") {
  eval::Evaluation ev;
  ev.provenance.model_path = "models/a`b.pt";
  ev.provenance.model_description = "<img src=https://x/t.png> [x](http://e)";
  ev.provenance.data_source = "data|with|pipes\nand a line";
  const std::string md = eval::report_markdown(ev);
  CHECK_THAT(md, !Catch::Contains("(<img") && !Catch::Contains(" [x]") &&
                     Catch::Contains("\\<img src=https://x/t.png\\> \\[x\\](http://e)") &&
                     Catch::Contains("data\\|with\\|pipes and a line") &&
                     Catch::Contains("Model ``models/a`b.pt`` ("));
}
