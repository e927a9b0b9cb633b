#include "distributed/distributed_training.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "core/atomic_file.h"
#include "core/error.h"
#include "defenses/defended_training.h"
#include "distributed/byzantine_simulation.h"
#include "distributed/data_shards.h"
#include "distributed/local_threads.h"
#include "distributed/message_auth.h"
#include "distributed/run_nonce.h"
#include "distributed/update_exchange.h"
#include "models/safetensors.h"
#include "security/model_intake.h"

namespace rampart::distributed {
namespace {

std::vector<at::Tensor> gradients(models::Classifier& model) {
  std::vector<at::Tensor> out;
  for (const auto& p : model.parameters()) {
    if (p.requires_grad()) out.push_back(p.grad().defined() ? p.grad() : at::zeros_like(p));
  }
  return out;
}

// A worker's own state at an epoch boundary: its momentum and, on rank 0, centered clipping's
// centre, one file per rank and boundary (`epochs_completed` in the name).
//
// Rank 0's checkpoint holds the weights and the optimizer. A resumed run is exact only when it
// finds every rank's state for the checkpoint's epoch, wherever rank 0 died. So the order is:
// a worker saves its state for epoch e before it sends its last update of e; rank 0 cannot
// finish that round without every update, and saves its own state before the checkpoint. A
// checkpoint on disk therefore implies every state of its epoch on disk. States can run one
// epoch ahead of the checkpoint (a worker saved, then rank 0 died), so the previous boundary's
// file is kept too.
std::string state_path(const std::string& output, int64_t rank, int64_t epochs_completed) {
  return (std::filesystem::path(output) / ("worker" + std::to_string(rank) + ".epoch" +
                                           std::to_string(epochs_completed) + ".state.safetensors"))
      .string();
}

void save_state(const std::string& output, int64_t rank, int64_t epochs_completed,
                const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  models::save_safetensors(state_path(output, rank, epochs_completed), tensors,
                           {{"epochs_completed", std::to_string(epochs_completed)}});
  std::error_code ignored;  // two boundaries back is never needed again
  std::filesystem::remove(state_path(output, rank, epochs_completed - 2), ignored);
}

}  // namespace

training::TrainResult train_rank(const training::TrainConfig& config,
                                 const defenses::DefenseSpec& defense, const DistributedSpec& spec,
                                 training::TrainOptions options, DistributedSummary* summary) {
  const GroupSpec group_spec = group_from_environment(spec.timeout_seconds);
  if (spec.workers > 0 && spec.workers != group_spec.world_size) {
    throw ConfigError("distributed.workers is " + std::to_string(spec.workers) +
                      " but WORLD_SIZE is " + std::to_string(group_spec.world_size));
  }
  auto group = std::make_shared<GlooGroup>(group_spec);
  const int64_t rank = group->rank(), world = group->world_size();
  const int64_t first_byzantine = world - spec.byzantine.count;
  const bool byzantine = rank >= first_byzantine;
  if (first_byzantine < 1) throw ConfigError("distributed.simulate_byzantine.count leaves no honest worker");
  auto keys = std::make_shared<KeyRing>();
  if (!spec.keys.empty()) {
    *keys = read_key_file(spec.keys);
  } else if (rank == 0) {
    spdlog::warn("distributed: no auth.keys: updates are not authenticated, and anyone who can "
                 "reach the store can join the run");
  }
  // Fresh on every launch: a frame of an earlier run of this config must not verify in this one.
  const std::string run_id = launch_run_id(*group, config.config_hash, spec.keys.empty() ? nullptr : keys.get());
  auto exchange = std::make_shared<UpdateExchange>(*group, run_id, spec.keys.empty() ? nullptr : keys.get(),
                                                   spec.max_norm);
  auto aggregator = std::make_shared<defenses::aggregation::RobustAggregator>(spec.aggregator, config.seed);
  auto generator = std::make_shared<at::Generator>(at::detail::createCPUGenerator(config.seed + 7919 * static_cast<uint64_t>(rank)));
  auto momentum = std::make_shared<at::Tensor>();
  if (summary) {
    summary->world_size = world;
    summary->rejected.assign(static_cast<std::size_t>(world), 0);
    summary->last_reason.assign(static_cast<std::size_t>(world), "");
  }
  const std::string checkpoint = (std::filesystem::path(config.output) / "checkpoint.safetensors").string();
  if (options.resume && std::filesystem::exists(checkpoint)) {
    const auto weights = models::parse_safetensors(core::read_file(checkpoint), checkpoint);
    const auto it = weights.metadata.find("epochs_completed");
    int64_t epochs = -1;  // unreadable: the trainer's restore names the bad checkpoint
    if (it != weights.metadata.end()) {
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), epochs);
    }
    const std::string path = state_path(config.output, rank, epochs);
    if (std::filesystem::exists(path)) {
      for (const auto& [name, tensor] : models::parse_safetensors(core::read_file(path), path).tensors) {
        if (name == "momentum") *momentum = tensor.clone();
        if (name == "centre") aggregator->set_centre(tensor.clone());
      }
    } else {
      spdlog::warn("distributed: rank {} finds no {} for the checkpoint's epoch {}: its worker "
                   "momentum restarts from zero, and the resumed run drifts from an "
                   "uninterrupted one", rank, path, epochs);
    }
  }
  // Rank 0 saves its state here, after its last round and before its checkpoint; the others
  // save theirs in after_backward, before sending their last update.
  options.on_epoch_end = [=, output = config.output](int64_t epoch) {
    if (rank != 0) return;
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    if (momentum->defined()) tensors.emplace_back("momentum", *momentum);
    if (aggregator->centre().defined()) tensors.emplace_back("centre", aggregator->centre());
    save_state(output, rank, epoch + 1, tensors);
  };
  const uint64_t seed = config.seed;
  const double heterogeneity = spec.heterogeneity;
  const bool flip_own_labels = byzantine && spec.byzantine.attack == "label_flip_own";
  const int64_t byzantine_count = spec.byzantine.count;
  options.shard = [rank, world, byzantine_count, heterogeneity, seed,
                   flip_own_labels](const datasets::Dataset& train) {
    datasets::Dataset part = train;
    const at::Tensor indices =
        worker_shard(train.labels, world, byzantine_count, rank, heterogeneity, seed);
    part.images = train.images.index_select(0, indices);
    part.labels = train.labels.index_select(0, indices);
    if (flip_own_labels) part.labels = (train.num_classes - 1) - part.labels;
    return part;
  };
  options.write_outputs = rank == 0;
  const ByzantineSpec byz = spec.byzantine;
  // Attacks computed from the honest updates need the omniscient view: one extra collective
  // per round, in which every rank takes part.
  const bool omniscient = byz.count > 0 && needs_honest_view(byz.attack);
  // ByzFL's label flipping: every rank also computes a flipped-label gradient, and the
  // attackers send the mean of the honest ranks' (a simulation-only cost, like the view).
  const bool flipped_view = byz.count > 0 && byz.attack == "label_flip";
  const double beta = spec.aggregator.momentum;
  // How long rank 0 waits for the survivors to check in: they notice a failure at the latest
  // when their own collective times out.
  const auto regroup_wait = std::chrono::milliseconds(spec.timeout_seconds * 1000 + 5000);
  const auto rule = spec.aggregator;
  options.after_backward = [=, output = config.output](models::Classifier& model, const at::Tensor& x,
                                                       const at::Tensor& y, int64_t epoch,
                                                       int64_t step, int64_t steps) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<at::Tensor> grads = gradients(model);
    std::vector<at::Tensor> flat;
    for (const auto& g : grads) flat.push_back(g.detach().flatten().to(at::kCPU, at::kFloat));
    at::Tensor update = at::cat(flat);
    if (beta > 0) {
      *momentum = momentum->defined() ? *momentum * beta + update * (1 - beta) : update;
      update = *momentum;
    }
    if (rank != 0 && step == steps - 1) {
      std::vector<std::pair<std::string, at::Tensor>> tensors;
      if (momentum->defined()) tensors.emplace_back("momentum", *momentum);
      save_state(output, rank, epoch + 1, tensors);
    }
    const at::Tensor flipped = flipped_view ? flipped_label_gradient(model, x, y) : at::Tensor();
    const auto t1 = std::chrono::steady_clock::now();
    // What this rank sends: its update, or a simulated attacker's vector. The omniscient
    // attacker sees every rank's true update, or for label_flip every rank's flipped-label
    // gradient (a simulation only).
    const auto sent = [&](const at::Tensor& own) {
      if (omniscient) {
        const std::vector<at::Tensor> all = group->allgather(flipped_view ? flipped : own);
        if (!byzantine) return own;
        std::vector<at::Tensor> honest;
        for (int64_t r = 0; r < group->world_size(); ++r) {
          if (group->original_rank(r) < first_byzantine) honest.push_back(all[static_cast<std::size_t>(r)]);
        }
        return byzantine_update(byz, at::stack(honest), own, rule, *generator);
      }
      return byzantine ? byzantine_update(byz, own.unsqueeze(0), own, rule, *generator) : own;
    };
    const int64_t round = epoch * 1000000 + step + 1;
    const auto t2 = std::chrono::steady_clock::now();
    RoundOutcome outcome;
    for (;;) {
      try {
        outcome = exchange->round(sent(update), round, rank == 0 ? aggregator.get() : nullptr);
        break;
      } catch (const PeerFailure& failure) {
        // A worker died or stopped answering: go on without it. The survivors may be one round
        // apart (some received the last aggregate before the failure): those behind get it
        // again; the others redo their round in the smaller group.
        spdlog::warn("distributed: rank {}, round {}: {}; regrouping without the lost workers",
                     rank, round, failure.what());
        for (int64_t gone : group->shrink(regroup_wait)) {
          spdlog::warn("distributed: rank {} lost in round {}; {} workers go on", gone, round,
                       group->world_size());
          if (summary) summary->lost.emplace_back(gone, round);
        }
        const std::vector<at::Tensor> rounds =
            group->allgather(at::full({1}, round, at::TensorOptions().dtype(at::kLong)));
        int64_t newest = round, oldest = round;
        for (const auto& r : rounds) {
          newest = std::max(newest, r.item<int64_t>());
          oldest = std::min(oldest, r.item<int64_t>());
        }
        if (oldest < newest) {
          const at::Tensor aggregate = exchange->redeliver(update.numel(), oldest);
          if (round == oldest) {
            outcome = RoundOutcome();
            outcome.aggregate = aggregate;
            break;
          }
        }
      }
    }
    const auto t3 = std::chrono::steady_clock::now();
    int64_t offset = 0;
    for (const auto& g : grads) {
      const int64_t n = g.numel();
      g.copy_(outcome.aggregate.slice(0, offset, offset + n).view_as(g));
      offset += n;
    }
    if (summary) {
      ++summary->rounds;
      for (const auto& [r, why] : outcome.rejected) {
        if (summary->rejected[static_cast<std::size_t>(r)]++ == 0) {
          spdlog::warn("distributed: round {}: rejected the update of rank {}: {}", summary->rounds, r, why);
        }
        summary->last_reason[static_cast<std::size_t>(r)] = why;
      }
      summary->compute_seconds += std::chrono::duration<double>(t1 - t0).count();
      summary->communication_seconds += std::chrono::duration<double>(t3 - t2).count();
    }
  };
  training::TrainConfig rank_config = config;
  rank_config.threads = threads_per_local_rank(config.threads, world);
  training::TrainResult result = defenses::train_with_defense(rank_config, defense, options);
  // Every rank must end with rank 0's weights: compare digests of the final weights.
  at::Tensor digest = at::zeros({32}, at::TensorOptions().dtype(at::kByte));
  {
    std::string bytes;
    for (const auto& p : result.model->parameters()) {
      const at::Tensor c = p.detach().to(at::kCPU).contiguous();
      bytes.append(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.nbytes()));
    }
    const std::string hex = security::sha256_hex(bytes);
    for (int i = 0; i < 32; ++i) digest[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  const std::vector<at::Tensor> digests = group->gather(digest);
  if (rank == 0 && summary) {
    for (int64_t r = 1; r < group->world_size(); ++r) {
      if (!at::equal(digests[static_cast<std::size_t>(r)], digest)) {
        summary->weights_identical = false;
        spdlog::error("distributed: rank {} ended with different weights from rank 0",
                      group->original_rank(r));
      }
    }
  }
  group->barrier();
  return result;
}

}  // namespace rampart::distributed
