#include "eval/report_writer.h"

#include <algorithm>

#include "core/atomic_file.h"
#include "datasets/npy.h"
#include "eval/reports.h"

namespace rampart::eval {
namespace {

bool wants(const ReportSpec& spec, const std::string& format) {
  return std::find(spec.formats.begin(), spec.formats.end(), format) != spec.formats.end();
}

}  // namespace

void write_reports(const ReportSpec& spec, const EvalOutput& output) {
  const Evaluation& ev = output.evaluation;
  const std::string dir = spec.dir + "/";
  for (const auto& [id, adversarial] : output.adversarial) {
    datasets::write_npy(dir + "adv/" + id + ".npy", adversarial.contiguous());
  }
  for (const auto& grid : ev.examples) core::write_file_atomic(dir + grid.file, grid.png);
  if (wants(spec, "markdown")) core::write_file_atomic(dir + "report.md", report_markdown(ev));
  if (wants(spec, "junit")) core::write_file_atomic(dir + "junit.xml", report_junit(ev));
  if (wants(spec, "html")) core::write_file_atomic(dir + "report.html", report_html(ev));
  if (wants(spec, "json")) {
    core::write_file_atomic(dir + "report.json", report_json(ev).dump(2) + "\n");
  }
}

}  // namespace rampart::eval
