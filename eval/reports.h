#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "eval/evaluation.h"

namespace rampart::eval {

/// Version of the report.json layout (docs/report-schema.md). Raised when a field changes
/// meaning or disappears; new fields do not raise it.
inline constexpr int kReportSchemaVersion = 1;

/// report.json: every number of the evaluation, documented field by field in
/// docs/report-schema.md.
nlohmann::json report_json(const Evaluation& evaluation);

/// The first autoattack entry's result as a RobustBench model entry (its field names: clean_acc,
/// autoattack_acc as percent strings, eps, ...; fields Rampart cannot know are empty), for
/// `rampart eval --robustbench FILE`. None when no autoattack entry ran.
std::optional<nlohmann::json> robustbench_entry(const Evaluation& evaluation);

/// report.md: a summary fit for a CI job summary (GitHub's $GITHUB_STEP_SUMMARY).
std::string report_markdown(const Evaluation& evaluation);

/// junit.xml: one testcase per gate (a failing gate is a <failure>) and one per sanity check
/// (a flagged check is a <failure> under --strict, else a passing case with a warning in
/// <system-out>).
std::string report_junit(const Evaluation& evaluation);

/// report.html: one self-contained page (inline CSS, SVG charts, PNG images as data: URIs; no
/// scripts, no network requests).
std::string report_html(const Evaluation& evaluation);

/// The table printed on stdout at the end of `rampart eval`.
std::string terminal_summary(const Evaluation& evaluation);

}  // namespace rampart::eval
