#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "defenses/aggregation/aggregator.h"
#include "distributed/message_auth.h"
#include "distributed/process_group.h"

namespace rampart::distributed {

/// The result of one aggregation round, the same on every honest rank.
struct RoundOutcome {
  at::Tensor aggregate;                                   ///< [d] float32
  std::vector<std::pair<int64_t, std::string>> rejected;  ///< rank 0 only: (rank, why)
  int64_t accepted = 0;                                   ///< rank 0 only
};

/// One round of trusted-aggregator training: every rank sends its update to rank 0 (c10d
/// gather: direct, so no rank relays another's vector); rank 0 checks each (size, rank, round,
/// authentication tag, finite values, norm bound), aggregates the accepted ones with the
/// robust rule and broadcasts the result. The broadcast frame carries one tag per rank, under
/// that rank's own key, because Gloo's broadcast is relayed through other ranks: each rank
/// checks its tag, so a relaying Byzantine rank cannot change the aggregate unnoticed. A rank
/// that receives a bad aggregate throws. Ranks are named by their original rank
/// (GlooGroup::original_rank), which their keys and frames carry, also after a shrink.
///
/// Example:
///   UpdateExchange exchange(group, run_id, &keys, /*max_norm=*/0);
///   const auto outcome = exchange.round(gradient, step, aggregator);  // aggregator: rank 0
class UpdateExchange {
 public:
  /// `keys`: every rank's key at rank 0, at least its own elsewhere; nullptr: no
  /// authentication (anyone who reaches the store can join).
  UpdateExchange(GlooGroup& group, std::string run_id, const KeyRing* keys, double max_norm);

  /// `aggregator` is used on rank 0 only (may be null elsewhere). `sent` is what this rank puts
  /// on the wire: the packed `update` unless a test or a simulated attacker replaces it.
  RoundOutcome round(const at::Tensor& update, int64_t round,
                     defenses::aggregation::RobustAggregator* aggregator);
  RoundOutcome round_with_frame(const at::Tensor& frame, int64_t d, int64_t round,
                                defenses::aggregation::RobustAggregator* aggregator);

  /// This rank's update as it would send it.
  at::Tensor pack(const at::Tensor& update, int64_t round) const;

  /// After the group shrank: rank 0 broadcasts again the aggregate it computed for `round` (its
  /// last), authenticated as in round(), to the ranks that had not received it. Every rank
  /// takes part; each returns the aggregate.
  at::Tensor redeliver(int64_t d, int64_t round);

  /// The last round rank 0 aggregated (-1 before the first; rank 0 only).
  int64_t last_round() const { return last_round_; }

 private:
  const Key* key_of(int64_t rank) const;
  // Broadcasts rank 0's `aggregate` for `round` with one tag per rank; returns it, checked.
  at::Tensor deliver(const at::Tensor& aggregate, int64_t d, int64_t round);

  GlooGroup& group_;
  std::string run_id_;
  const KeyRing* keys_;
  double max_norm_;
  int64_t last_round_ = -1;
  at::Tensor last_aggregate_;
  at::Tensor centre_before_;  ///< the rule's centre before the last aggregation
  at::Tensor inbox_;          ///< rank 0: the last round's frames, [n, frame bytes], reused
};

}  // namespace rampart::distributed
