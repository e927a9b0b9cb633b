#include "distributed/update_exchange.h"

#include <ATen/ATen.h>

#include <cstring>
#include <stdexcept>

#include "distributed/update_frame.h"

namespace rampart::distributed {

UpdateExchange::UpdateExchange(GlooGroup& group, std::string run_id, const KeyRing* keys,
                               double max_norm)
    : group_(group), run_id_(std::move(run_id)), keys_(keys), max_norm_(max_norm) {}

const Key* UpdateExchange::key_of(int64_t rank) const {
  if (!keys_) return nullptr;
  if (!keys_->has(rank)) {
    throw std::runtime_error("distributed: no key for rank " + std::to_string(rank));
  }
  return &keys_->at(rank);
}

at::Tensor UpdateExchange::pack(const at::Tensor& update, int64_t round) const {
  const int64_t me = group_.original_rank(group_.rank());
  return pack_update(update, round, me, run_id_, key_of(me));
}

RoundOutcome UpdateExchange::round(const at::Tensor& update, int64_t round,
                                   defenses::aggregation::RobustAggregator* aggregator) {
  return round_with_frame(pack(update, round), update.numel(), round, aggregator);
}

RoundOutcome UpdateExchange::round_with_frame(const at::Tensor& frame, int64_t d, int64_t round,
                                              defenses::aggregation::RobustAggregator* aggregator) {
  const int64_t n = group_.world_size();
  RoundOutcome outcome;
  const std::vector<at::Tensor> frames = group_.gather(frame);
  at::Tensor aggregate;
  if (group_.rank() == 0) {
    if (!aggregator) throw std::logic_error("UpdateExchange: rank 0 needs the aggregator");
    std::vector<at::Tensor> accepted;
    for (int64_t r = 0; r < n; ++r) {
      const int64_t sender = group_.original_rank(r);
      ReceivedUpdate received = unpack_update(frames[static_cast<std::size_t>(r)], d, round,
                                              sender, run_id_, key_of(sender), max_norm_);
      if (received.rejected.empty()) {
        accepted.push_back(received.update);
      } else {
        outcome.rejected.emplace_back(sender, received.rejected);
      }
    }
    outcome.accepted = static_cast<int64_t>(accepted.size());
    if (outcome.accepted < aggregator->min_inputs()) {
      std::string why;
      for (const auto& [r, reason] : outcome.rejected) {
        why += "; rank " + std::to_string(r) + ": " + reason;
      }
      throw std::runtime_error("distributed: round " + std::to_string(round) + " accepted " +
                               std::to_string(outcome.accepted) + " of " + std::to_string(n) +
                               " updates, fewer than the " +
                               std::to_string(aggregator->min_inputs()) +
                               " the aggregator needs (2f + 1)" + why);
    }
    // A stateful rule (centered clipping) moves its centre: a round redone after a failure
    // starts again from the centre it had before.
    if (round == last_round_ && centre_before_.defined()) aggregator->set_centre(centre_before_);
    centre_before_ = aggregator->centre().defined() ? aggregator->centre().clone() : at::Tensor();
    aggregate = (*aggregator)(at::stack(accepted)).to(at::kFloat).contiguous();
    last_round_ = round;
    last_aggregate_ = aggregate;
  }
  outcome.aggregate = deliver(aggregate, d, round);
  return outcome;
}

at::Tensor UpdateExchange::redeliver(int64_t d, int64_t round) {
  if (group_.rank() == 0 && last_round_ != round) {
    throw std::logic_error("UpdateExchange: round " + std::to_string(round) +
                           " is not the last aggregated one (" + std::to_string(last_round_) + ")");
  }
  return deliver(group_.rank() == 0 ? last_aggregate_ : at::Tensor(), d, round);
}

at::Tensor UpdateExchange::deliver(const at::Tensor& aggregate, int64_t d, int64_t round) {
  const int64_t n = group_.world_size();
  // The broadcast frame: the aggregate's frame (rank 0's header and payload), then one tag per
  // rank under that rank's key.
  const int64_t aggregate_bytes = frame_bytes(d);
  at::Tensor reply = at::zeros({aggregate_bytes + 32 * n}, at::TensorOptions().dtype(at::kByte));
  if (group_.rank() == 0) {
    const at::Tensor packed = pack_update(aggregate, round, 0, run_id_, nullptr);
    uint8_t* p = reply.data_ptr<uint8_t>();
    std::memcpy(p, packed.data_ptr<uint8_t>(), static_cast<std::size_t>(aggregate_bytes));
    const Digest digest = payload_digest(p + 24, static_cast<std::size_t>(d) * sizeof(float));
    for (int64_t r = 0; r < n; ++r) {
      const int64_t receiver = group_.original_rank(r);
      if (const Key* key = key_of(receiver)) {
        const Tag tag = message_tag(*key, run_id_ + "/aggregate", round, receiver, digest);
        std::memcpy(p + aggregate_bytes + 32 * r, tag.data(), tag.size());
      }
    }
  }
  group_.broadcast(reply);
  const uint8_t* p = reply.data_ptr<uint8_t>();
  const int64_t me = group_.original_rank(group_.rank());
  ReceivedUpdate mine = unpack_update(reply.slice(0, 0, aggregate_bytes), d, round, 0, run_id_,
                                      nullptr, /*max_norm=*/0);
  if (!mine.rejected.empty()) {
    throw std::runtime_error("distributed: rank " + std::to_string(me) +
                             " received a bad aggregate in round " + std::to_string(round) +
                             ": " + mine.rejected);
  }
  if (const Key* key = key_of(me)) {
    Tag received{};
    std::memcpy(received.data(), p + aggregate_bytes + 32 * group_.rank(), received.size());
    const Tag expected = message_tag(*key, run_id_ + "/aggregate", round, me, p + 24,
                                     static_cast<std::size_t>(d) * sizeof(float));
    if (!tags_equal(received, expected)) {
      throw std::runtime_error("distributed: rank " + std::to_string(me) +
                               ": the aggregate of round " + std::to_string(round) +
                               " fails its authentication tag (changed in transit)");
    }
  }
  return mine.update;
}

}  // namespace rampart::distributed
