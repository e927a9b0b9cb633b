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
  // Row r of the inbox is rank r's frame; the payloads are checked and aggregated where they
  // landed, as the rows of one strided [n, d] view: no copy between the wire and the rule.
  inbox_ = group_.gather_rows(frame, inbox_);
  at::Tensor aggregate;
  if (group_.rank() == 0) {
    if (!aggregator) throw std::logic_error("UpdateExchange: rank 0 needs the aggregator");
    const int64_t bytes = inbox_.size(1);
    uint8_t* base = inbox_.data_ptr<uint8_t>();
    std::vector<int64_t> accepted;
    for (int64_t r = 0; r < n; ++r) {
      const int64_t sender = group_.original_rank(r);
      std::string why = check_frame(base + r * bytes, bytes, d, round, sender, run_id_,
                                    key_of(sender), max_norm_);
      if (why.empty()) {
        accepted.push_back(r);
      } else {
        outcome.rejected.emplace_back(sender, std::move(why));
      }
    }
    outcome.accepted = static_cast<int64_t>(accepted.size());
    // With keys, a frame refused for NaN or Inf (past the round and tag checks) was sent by
    // its rank, which is Byzantine: at most f minus those of the accepted ones are, and the
    // rule runs with that f. Any other refusal keeps f (a network adversary can cause one to
    // an honest rank's frame; an honest gradient can exceed a tight norm bound).
    int64_t known_byzantine = 0;
    if (keys_) {
      for (const auto& rejected : outcome.rejected) known_byzantine += refused_as_non_finite(rejected.second);
    }
    if (outcome.accepted < aggregator->min_inputs(known_byzantine)) {
      std::string why;
      for (const auto& [r, reason] : outcome.rejected) {
        why += "; rank " + std::to_string(r) + ": " + reason;
      }
      throw std::runtime_error("distributed: round " + std::to_string(round) + " accepted " +
                               std::to_string(outcome.accepted) + " of " + std::to_string(n) +
                               " updates, fewer than the " +
                               std::to_string(aggregator->min_inputs(known_byzantine)) +
                               " the aggregator needs (2f + 1" +
                               (known_byzantine > 0 ? ", f lowered by the ranks that sent NaN or Inf)" : ")") +
                               why);
    }
    // The accepted payloads move up over the rejected ones, in order, inside the inbox (an
    // index_select would allocate and fault in a fresh [accepted, d] tensor every round: about
    // 150 ms for 10 x 1.2M floats here). Slot k < r_k only ever holds a rejected row or one
    // already moved, since the accepted rows r_0 < r_1 < ... satisfy r_k >= k.
    for (int64_t k = 0; k < outcome.accepted; ++k) {
      const int64_t r = accepted[static_cast<size_t>(k)];
      if (r != k) {
        std::memmove(base + k * bytes + payload_offset(), base + r * bytes + payload_offset(),
                     static_cast<size_t>(d) * sizeof(float));
      }
    }
    // Frames are 4-byte multiples (frame_bytes), so every row's payload is float-aligned.
    const at::Tensor updates = at::from_blob(base + payload_offset(), {outcome.accepted, d},
                                             {bytes / static_cast<int64_t>(sizeof(float)), 1},
                                             at::TensorOptions().dtype(at::kFloat));
    // A stateful rule (centered clipping) moves its centre: a round redone after a failure
    // starts again from the centre it had before.
    if (round == last_round_ && centre_before_.defined()) aggregator->set_centre(centre_before_);
    centre_before_ = aggregator->centre().defined() ? aggregator->centre().clone() : at::Tensor();
    aggregate = (*aggregator)(updates, known_byzantine).to(at::kFloat).contiguous();
    // A rule may return one of its inputs (Krum): those live in the inbox, which the next round
    // overwrites, so such a result gets its own memory.
    const auto* p = static_cast<const uint8_t*>(aggregate.data_ptr());
    if (p >= base && p < base + inbox_.numel()) aggregate = aggregate.clone();
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
  const auto payload_bytes = static_cast<std::size_t>(d) * sizeof(float);
  at::Tensor reply = at::empty({aggregate_bytes + 32 * n}, at::TensorOptions().dtype(at::kByte));
  uint8_t* p = reply.data_ptr<uint8_t>();
  if (group_.rank() == 0) {
    write_frame(p, aggregate, round, 0, run_id_, nullptr);
    std::memset(p + aggregate_bytes, 0, static_cast<std::size_t>(32 * n));
    if (keys_) {
      const Digest digest = payload_digest(p + payload_offset(), payload_bytes);  // hashed once
      for (int64_t r = 0; r < n; ++r) {
        const int64_t receiver = group_.original_rank(r);
        if (const Key* key = key_of(receiver)) {
          const Tag tag = message_tag(*key, run_id_ + "/aggregate", round, receiver, digest);
          std::memcpy(p + aggregate_bytes + 32 * r, tag.data(), tag.size());
        }
      }
    }
  }
  group_.broadcast(reply);
  const int64_t me = group_.original_rank(group_.rank());
  const std::string bad = check_frame(p, aggregate_bytes, d, round, 0, run_id_, nullptr, 0);
  if (!bad.empty()) {
    throw std::runtime_error("distributed: rank " + std::to_string(me) +
                             " received a bad aggregate in round " + std::to_string(round) +
                             ": " + bad);
  }
  // Rank 0 wrote the tags and its buffer is the broadcast's source: only the receivers check.
  const Key* key = group_.rank() == 0 ? nullptr : key_of(me);
  if (key) {
    Tag received{};
    std::memcpy(received.data(), p + aggregate_bytes + 32 * group_.rank(), received.size());
    const Tag expected = message_tag(*key, run_id_ + "/aggregate", round, me,
                                     p + payload_offset(), payload_bytes);
    if (!tags_equal(received, expected)) {
      throw std::runtime_error("distributed: rank " + std::to_string(me) +
                               ": the aggregate of round " + std::to_string(round) +
                               " fails its authentication tag (changed in transit)");
    }
  }
  // The aggregate where it landed: a view that keeps the reply buffer alive.
  return at::from_blob(p + payload_offset(), {d}, [reply](void*) {},
                       at::TensorOptions().dtype(at::kFloat));
}

}  // namespace rampart::distributed
