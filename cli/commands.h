#pragma once

#include <string>
#include <vector>

namespace rampart::cli {

/// `rampart train CONFIG [--set KEY=VALUE]... [--resume]`; returns the exit code.
int run_train(const std::string& config_path, const std::vector<std::string>& overrides,
              bool resume);

/// The arguments of `rampart eval`.
struct EvalCommand {
  std::string config_path;
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  std::string out_dir;                 ///< --out: overrides report.dir
  bool strict = false;
  bool quiet = false;
};

/// `rampart eval CONFIG [--set KEY=VALUE]... [--out DIR] [--strict] [--quiet]`: evaluates,
/// writes the report directory and prints the summary; returns 0, or 1 when a gate failed
/// (or, with --strict, a sanity check was flagged).
int run_eval(const EvalCommand& command);

/// `rampart quickstart [--out DIR] [--set KEY=VALUE]...`: trains (or reuses) the small CNN on
/// Fashion-MNIST, evaluates FGSM, PGD and CW on 1000 test images, writes DIR/report and prints
/// the summary and the path of report.html. `--set eval.KEY=VALUE` overrides the eval config.
int run_quickstart(const std::string& out_dir, const std::vector<std::string>& overrides);

}  // namespace rampart::cli
