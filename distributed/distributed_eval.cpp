#include "distributed/distributed_eval.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/error.h"
#include "distributed/process_group.h"

namespace rampart::distributed {
namespace {

// The ranks on this machine: torchrun's LOCAL_WORLD_SIZE, else WORLD_SIZE.
int64_t local_world_size(int64_t world_size) {
  const char* value = std::getenv("LOCAL_WORLD_SIZE");
  if (value == nullptr || *value == '\0') return world_size;
  const long long local = std::strtoll(value, nullptr, 10);
  return local > 0 ? local : world_size;
}

}  // namespace

std::optional<eval::Evaluation> evaluate_rank(eval::EvalConfig config,
                                              const eval::EvalOptions& options) {
  const eval::DistributedEvalSpec spec =
      config.distributed ? *config.distributed : eval::DistributedEvalSpec{};
  GlooGroup group(group_from_environment(spec.timeout_seconds));
  if (spec.workers > 0 && spec.workers != group.world_size()) {
    throw ConfigError(config.source + ": distributed.workers is " + std::to_string(spec.workers) +
                      " but WORLD_SIZE is " + std::to_string(group.world_size()));
  }
  if (config.threads == 0) {
    const int64_t cores = std::max<unsigned>(std::thread::hardware_concurrency(), 1u);
    config.threads = std::max<int64_t>(1, cores / local_world_size(group.world_size()));
  }
  const bool randomised =
      std::any_of(config.model.transforms.begin(), config.model.transforms.end(),
                  [](const models::TransformSpec& t) { return t.is_random(); });
  if (randomised && group.rank() == 0) {
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
