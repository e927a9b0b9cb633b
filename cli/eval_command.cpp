#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/config_node.h"
#include "core/error.h"
#include "core/json_text.h"
#if RAMPART_HAVE_DISTRIBUTED
#include "distributed/distributed_eval.h"
#include "distributed/launcher.h"
#endif
#include "eval/eval_config.h"
#include "eval/reports.h"
#include "eval/runner.h"

namespace rampart::cli {

int run_eval(const EvalCommand& command) {
  std::vector<std::string> overrides = command.overrides;
  if (!command.out_dir.empty()) overrides.push_back(core::string_override("report.dir", command.out_dir));
  const eval::EvalConfig config =
      eval::parse_eval_config(core::load_config(command.config_path, overrides));
  if (!command.robustbench.empty() &&
      std::none_of(config.attacks.begin(), config.attacks.end(),
                   [](const eval::ConfiguredAttack& a) { return a.name == "autoattack"; })) {
    throw ConfigError("--robustbench " + command.robustbench + ": " + command.config_path +
                      " configures no `name: autoattack` entry in attacks");
  }
  eval::EvalOptions options;
  options.quiet = command.quiet;
  options.strict = command.strict;
  std::optional<eval::Evaluation> result;
  if (!config.distributed) {
    result = eval::run_eval(config, options);
  } else if (!RAMPART_HAVE_DISTRIBUTED) {
    throw ConfigError(config.source + ": distributed: this rampart was built without the "
                      "distributed module (RAMPART_WITH_DISTRIBUTED: no c10d Gloo headers at "
                      "build time)");
  }
#if RAMPART_HAVE_DISTRIBUTED
  else if (std::getenv("RANK") == nullptr) {
    if (config.distributed->workers == 0) {
      throw ConfigError(config.source + ": distributed: no 'workers' and no RANK/WORLD_SIZE in "
                        "the environment: set distributed.workers to launch local workers");
    }
    std::vector<std::string> arguments{"eval", command.config_path};
    for (const auto& o : overrides) arguments.insert(arguments.end(), {"--set", o});
    if (command.quiet) arguments.emplace_back("--quiet");
    if (command.strict) arguments.emplace_back("--strict");
    if (!command.robustbench.empty()) arguments.insert(arguments.end(), {"--robustbench", command.robustbench});
    return distributed::launch_local_workers(config.distributed->workers, arguments,
                                             config.report.dir, /*survive_worker_loss=*/false);
  } else {
    result = distributed::evaluate_rank(config, options);
    if (!result) return 0;  // rank 0 reports
  }
#endif
  const eval::Evaluation& evaluation = *result;
  std::printf("\n%s", eval::terminal_summary(evaluation).c_str());
  std::printf("report: %s/\n", config.report.dir.c_str());
  if (!command.robustbench.empty()) {
    if (const auto entry = eval::robustbench_entry(evaluation)) {
      core::write_file_atomic(command.robustbench, core::json_text(*entry, 2) + "\n");
      std::printf("robustbench entry: %s\n", command.robustbench.c_str());
    }
  }
  std::fflush(stdout);
  if (evaluation.gates_failed() > 0) {
    spdlog::error("{} of {} gates failed", evaluation.gates_failed(), evaluation.gates.size());
  } else if (options.strict && evaluation.sanity_flagged() > 0) {
    spdlog::error("{} sanity check(s) flagged under --strict", evaluation.sanity_flagged());
  }
  return evaluation.exit_code();
}

}  // namespace rampart::cli
