#include "distributed/distributed_eval.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "distributed/local_threads.h"
#include "distributed/process_group.h"

namespace rampart::distributed {

std::optional<eval::Evaluation> evaluate_rank(eval::EvalConfig config,
                                              const eval::EvalOptions& options) {
  const eval::DistributedEvalSpec spec =
      config.distributed ? *config.distributed : eval::DistributedEvalSpec{};
  GlooGroup group(group_from_environment(spec.timeout_seconds));
  if (spec.workers > 0 && spec.workers != group.world_size()) {
    throw ConfigError(config.source + ": distributed.workers is " + std::to_string(spec.workers) +
                      " but WORLD_SIZE is " + std::to_string(group.world_size()));
  }
  config.threads = threads_per_local_rank(config.threads, group.world_size());
  if (config.randomised && group.rank() == 0) {
    spdlog::warn("{}: the model draws new noise on every pass; a distributed evaluation draws "
                 "other noise than one process does, so its per-point results differ by chance",
                 config.source);
  }
  eval::EvalPart part;
  part.rank = group.rank();
  part.world_size = group.world_size();
  part.gather = [&group](const std::string& bytes) { return group.gather_bytes(bytes); };
  eval::EvalOptions quiet_elsewhere = options;
  if (group.rank() != 0) quiet_elsewhere.quiet = true;
  return eval::run_eval_part(config, quiet_elsewhere, part);
}

}  // namespace rampart::distributed
