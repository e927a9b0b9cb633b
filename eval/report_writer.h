#pragma once

#include "eval/eval_config.h"
#include "eval/runner.h"

namespace rampart::eval {

/// Writes the report directory `spec.dir`: the configured formats (report.json, report.md,
/// junit.xml, report.html), images/<attack-id>.png and, with save_adversarial,
/// adv/<attack-id>.npy. Every file is written atomically (temp file + rename); report.json
/// comes last, so a reader that finds a new report.json finds the rest of the run beside it.
/// An earlier run's files that this run does not write (another format, an attack no longer
/// configured, adv/ without save_adversarial) are removed first: they would contradict it.
/// Throws DataError (exit 4) naming the file that could not be written.
void write_reports(const ReportSpec& spec, const EvalOutput& output);

}  // namespace rampart::eval
