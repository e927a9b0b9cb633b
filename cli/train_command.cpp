#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/config_node.h"
#include "core/error.h"
#include "defenses/defended_training.h"
#if RAMPART_HAVE_DISTRIBUTED
#include "distributed/distributed_config.h"
#include "distributed/distributed_training.h"
#include "distributed/launcher.h"
#include "distributed/message_auth.h"
#endif
#include "training/trainer.h"

namespace rampart::cli {
namespace {

void print_train_result(const training::TrainResult& result) {
  std::printf("epochs trained:      %lld\n", static_cast<long long>(result.epochs_run));
  if (result.epochs_run > 0) {
    std::printf("last epoch:          loss %.4f, train accuracy %.2f%%\n", result.train_loss,
                result.train_accuracy * 100.0);
  }
  if (result.validation_accuracy) {
    std::printf("validation accuracy: %.2f%% (%lld points, last epoch)\n",
                *result.validation_accuracy * 100.0,
                static_cast<long long>(result.validation_size));
  }
  if (!result.data_manifest_root.empty()) {
    std::printf("data manifest:       root %s, every point matched\n",
                result.data_manifest_root.c_str());
  }
  std::printf("data root:           %s (the points trained on)\n", result.data_root.c_str());
  if (!result.relabel_file.empty()) {
    std::printf("relabelled:          %lld points, %lld flagged points left out, by %s\n",
                static_cast<long long>(result.relabelled_points),
                static_cast<long long>(result.excluded_points), result.relabel_file.c_str());
  } else if (!result.exclusion_file.empty()) {
    std::printf("excluded:            %lld points flagged by %s\n",
                static_cast<long long>(result.excluded_points), result.exclusion_file.c_str());
  }
  std::printf("time:                %.2f minutes\n", result.seconds / 60.0);
  std::printf("checkpoint:          %s\n", result.checkpoint.c_str());
  if (!result.checkpoint_sha256.empty()) {
    std::printf("  sha256:            %s\n", result.checkpoint_sha256.c_str());
  }
  if (result.robust_accuracy) {
    std::printf("robust accuracy:     %.2f%% (last epoch)\n", *result.robust_accuracy * 100.0);
  }
  if (result.best_robust_accuracy) {
    std::printf("most robust epoch:   %lld, robust %.2f%%, clean %.2f%%, kept in %s\n",
                static_cast<long long>(result.best_epoch), *result.best_robust_accuracy * 100.0,
                result.kept_validation_accuracy.value_or(0.0) * 100.0,
                result.best_checkpoint.c_str());
  }
  if (!result.torchscript.empty()) {
    std::printf("torchscript:         %s\n", result.torchscript.c_str());
    std::printf("  sha256:            %s\n", result.torchscript_sha256.c_str());
  }
}

#if RAMPART_HAVE_DISTRIBUTED
void print_distributed_summary(const distributed::DistributedSummary& s,
                               const distributed::DistributedSpec& spec) {
  std::printf("distributed:         %lld workers, %lld rounds, aggregator %s\n",
              static_cast<long long>(s.world_size), static_cast<long long>(s.rounds),
              defenses::aggregation::describe(spec.aggregator).c_str());
  if (spec.byzantine.count > 0) {
    std::printf("  simulated:         %lld Byzantine (ranks %lld..%lld), attack %s\n",
                static_cast<long long>(spec.byzantine.count),
                static_cast<long long>(s.world_size - spec.byzantine.count),
                static_cast<long long>(s.world_size - 1), spec.byzantine.attack.c_str());
  }
  for (std::size_t r = 0; r < s.rejected.size(); ++r) {
    if (s.rejected[r] > 0) {
      std::printf("  rejected:          rank %zu, %lld of %lld rounds (%s)\n", r,
                  static_cast<long long>(s.rejected[r]), static_cast<long long>(s.rounds),
                  s.last_reason[r].c_str());
    }
  }
  for (const auto& [rank, round] : s.lost) {
    std::printf("  lost:              rank %lld in round %lld; the run went on without it\n",
                static_cast<long long>(rank), static_cast<long long>(round));
  }
  std::printf("  time:              %.1f s communication and aggregation, %.1f s updates\n",
              s.communication_seconds, s.compute_seconds);
  std::printf("  final weights:     %s\n", s.weights_identical
                                               ? (s.lost.empty() ? "identical on every rank"
                                                                 : "identical on every remaining rank")
                                               : "DIFFER between ranks");
}
#endif

}  // namespace

int run_train(const std::string& config_path, const std::vector<std::string>& overrides,
              bool resume) {
  const core::ConfigNode root = core::load_config(config_path, overrides);
  const auto config = training::parse_train_config(root);
  const auto defense = defenses::parse_defense_spec(root, config.model.input.range_min,
                                                    config.model.input.range_max);
  training::TrainOptions options;
  options.resume = resume;
  if (!root.has("distributed")) {
    print_train_result(defenses::train_with_defense(config, defense, options));
    return 0;
  }
#if !RAMPART_HAVE_DISTRIBUTED
  root.child("distributed").fail("this rampart was built without the distributed module "
                                 "(RAMPART_WITH_DISTRIBUTED: no c10d Gloo headers at build time)");
#else
  const auto spec = distributed::parse_distributed_spec(root.child("distributed"));
  if (defense.distillation && defense.distillation->teacher.empty()) {
    // The teacher's training would run in every worker on all the data, outside the rounds.
    root.child("defense").fail(
        "distillation under distributed needs a trained teacher (defense.teacher): train it first "
        "without distributed, or give its checkpoint");
  }
  if (std::getenv("RANK") == nullptr) {
    if (spec.workers == 0) {
      root.child("distributed").fail("no 'workers' and no RANK/WORLD_SIZE in the environment: "
                                     "set distributed.workers to launch local workers");
    }
    if (!spec.keys.empty()) {  // one clear error here rather than one per worker
      const auto keys = distributed::read_key_file(spec.keys);
      for (int64_t r = 0; r < spec.workers; ++r) {
        if (!keys.has(r)) {
          throw ConfigError(spec.keys + ": no key for rank " + std::to_string(r) + " of " +
                            std::to_string(spec.workers) + " workers");
        }
      }
    }
    std::vector<std::string> arguments{"train", config_path};
    for (const auto& o : overrides) arguments.insert(arguments.end(), {"--set", o});
    if (resume) arguments.emplace_back("--resume");
    return distributed::launch_local_workers(spec.workers, arguments, config.output,
                                             /*survive_worker_loss=*/true);
  }
  distributed::DistributedSummary summary;
  const auto result = distributed::train_rank(config, defense, spec, options, &summary);
  if (summary.world_size > 0 && std::getenv("RANK") == std::string("0")) {
    print_train_result(result);
    print_distributed_summary(summary, spec);
    if (!summary.weights_identical) return 1;
  }
  return 0;
#endif
}

}  // namespace rampart::cli
