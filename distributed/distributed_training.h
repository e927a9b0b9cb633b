#pragma once

#include <utility>
#include <vector>

#include "defenses/defense_config.h"
#include "distributed/distributed_config.h"
#include "training/train_config.h"
#include "training/trainer.h"

namespace rampart::distributed {

/// What rank 0 reports of a distributed run besides the training result.
struct DistributedSummary {
  int64_t world_size = 0;
  int64_t rounds = 0;
  /// Per rank: updates rejected, and the last reason.
  std::vector<int64_t> rejected;
  std::vector<std::string> last_reason;
  /// Seconds spent computing updates (backward excluded: the training loop times that) and in
  /// the round (communication, and on rank 0 the checks and the aggregation).
  double compute_seconds = 0, communication_seconds = 0;
  bool weights_identical = true;  ///< every rank's final weights hash to rank 0's
  /// Workers lost mid-run (dead, or not answering within timeout_seconds): (original rank,
  /// round), in the order the group shrank.
  std::vector<std::pair<int64_t, int64_t>> lost;
};

/// Trains as one rank of a data-parallel job described by the environment (RANK, WORLD_SIZE,
/// and RAMPART_FILE_STORE or MASTER_ADDR/MASTER_PORT): each rank trains on its shard, sends its
/// update (gradient, or worker momentum) each step to rank 0, which checks, robustly
/// aggregates and broadcasts it; every rank steps with the aggregate. The last
/// `simulate_byzantine.count` ranks attack. Rank 0 writes the checkpoint and the export. With
/// `threads: 0`, each local rank takes an equal share of the cores (threads_per_local_rank).
///
/// A worker that dies or stops answering (a collective fails or times out after
/// `timeout_seconds`): the others regroup without it on the same store (GlooGroup::shrink),
/// the ranks that had not received the last aggregate get it again, and the run goes on while
/// the aggregator's quorum (2f + 1) remains; below it, rank 0 stops with one error. Rank 0
/// itself cannot be lost (it aggregates, and holds the store): `--resume` continues from its
/// last checkpoint.
training::TrainResult train_rank(const training::TrainConfig& config,
                                 const defenses::DefenseSpec& defense, const DistributedSpec& spec,
                                 training::TrainOptions options, DistributedSummary* summary);

}  // namespace rampart::distributed
