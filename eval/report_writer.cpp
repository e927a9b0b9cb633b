#include "eval/report_writer.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_text.h"
#include "datasets/npy.h"
#include "eval/reports.h"

namespace rampart::eval {
namespace {

namespace fs = std::filesystem;

bool wants(const ReportSpec& spec, const std::string& format) {
  return std::find(spec.formats.begin(), spec.formats.end(), format) != spec.formats.end();
}

void remove_file(const fs::path& file) {
  std::error_code ec;
  fs::remove(file, ec);
  if (ec) {
    throw DataError(file.string() + ": cannot remove an earlier run's report file (" +
                          ec.message() + ")");
  }
}

// The files of `folder` ending in `extension` that this run does not write (`kept`, names
// relative to the report directory). They are an earlier run's: left beside this run's
// reports they would contradict them.
void remove_stale(const fs::path& dir, const std::string& folder, const std::string& extension,
                  const std::set<std::string>& kept) {
  std::error_code ec;
  if (!fs::is_directory(dir / folder, ec)) return;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(dir / folder, ec)) {
    const fs::path& p = entry.path();
    if (p.extension() == extension && !kept.count(folder + "/" + p.filename().string())) {
      stale.push_back(p);
    }
  }
  for (const auto& p : stale) remove_file(p);
}

// Written first into every report folder: a folder of a run that wrote no report.json (only
// junit.xml, or one stopped half-way) is still known as Rampart's, and cleaned.
constexpr const char* kMarker = ".rampart-report";

// Whether `dir` holds Rampart's reports: its marker, or (folders of earlier versions) a
// report.json that Rampart wrote (its schema_version and provenance).
bool holds_rampart_report(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir / kMarker, ec)) return true;
  const fs::path file = dir / "report.json";
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > (uint64_t{256} << 20)) return false;
  try {
    const nlohmann::json j = nlohmann::json::parse(core::read_file(file.string()));
    return j.is_object() && j.contains("schema_version") && j.contains("provenance");
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

void write_reports(const ReportSpec& spec, const EvalOutput& output) {
  const Evaluation& ev = output.evaluation;
  const fs::path dir(spec.dir);
  // Every document is rendered before the directory changes, so a failure to render one leaves
  // the earlier run's reports as they were.
  std::vector<std::pair<std::string, std::string>> documents;  // file, text; report.json last
  if (wants(spec, "markdown")) documents.emplace_back("report.md", report_markdown(ev));
  if (wants(spec, "junit")) documents.emplace_back("junit.xml", report_junit(ev));
  if (wants(spec, "html")) documents.emplace_back("report.html", report_html(ev));
  if (wants(spec, "json")) documents.emplace_back("report.json", core::json_text(report_json(ev), 2) + "\n");

  // Only a folder that holds an earlier Rampart report is cleaned: `--out` may name a folder of
  // the user's own, whose images/ and report.md are not this tool's to remove. There every
  // earlier document goes first (a run that then fails, say on a full disk while writing adv/,
  // leaves no earlier junit.xml that passed for a CI step to publish), then every grid and
  // array this run does not write; this run's documents come last, report.json the very last.
  std::error_code ec;
  const bool earlier_report = holds_rampart_report(dir);
  // The marker goes only into a folder that is Rampart's: a new or empty one, or one of an
  // earlier report. A folder of the user's own stays theirs (never cleaned by a later run).
  const bool ours = earlier_report || !fs::exists(dir, ec) || fs::is_empty(dir, ec);
  if (earlier_report) {
    for (const char* file : {"report.json", "report.md", "junit.xml", "report.html"}) {
      remove_file(dir / file);
    }
    std::set<std::string> kept;
    for (const auto& [id, adversarial] : output.adversarial) kept.insert("adv/" + id + ".npy");
    for (const auto& grid : ev.examples) kept.insert(grid.file);
    remove_stale(dir, "adv", ".npy", kept);
    remove_stale(dir, "images", ".png", kept);
  }
  core::make_directories(dir.string());
  if (ours) {
    core::write_file_atomic((dir / kMarker).string(),
                            "This folder holds Rampart's reports; a new run into it replaces them.\n");
  }

  for (const auto& [id, adversarial] : output.adversarial) {
    datasets::write_npy((dir / ("adv/" + id + ".npy")).string(), adversarial.contiguous());
  }
  for (const auto& grid : ev.examples) core::write_file_atomic((dir / grid.file).string(), grid.png);
  for (const auto& [file, text] : documents) core::write_file_atomic((dir / file).string(), text);
}

}  // namespace rampart::eval
