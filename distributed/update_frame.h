#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>

#include "distributed/message_auth.h"

namespace rampart::distributed {

/// One update on the wire: a uint8 tensor holding
///   [round: int64][rank: int64][d: int64][payload: d float32][tag: 32 bytes]
/// where the tag is message_tag(key of rank, run id, round, rank, payload). Without keys the tag
/// is zero and unchecked.
at::Tensor pack_update(const at::Tensor& update, int64_t round, int64_t rank,
                       const std::string& run_id, const Key* key);

/// The size in bytes of a frame carrying d floats.
int64_t frame_bytes(int64_t d);

/// What the receiver checks, in order: the frame's size for d floats; the claimed rank is the
/// sender's slot; the claimed round is the current one (else replayed or out of round); the tag
/// under the sender's key (else forged or tampered); every value finite; the L2 norm within
/// `max_norm` (0: no bound). On success `update` holds the payload ([d] float32).
struct ReceivedUpdate {
  at::Tensor update;
  std::string rejected;  ///< empty when accepted; else why, for the log and the run summary
};
ReceivedUpdate unpack_update(const at::Tensor& frame, int64_t d, int64_t expected_round,
                             int64_t sender, const std::string& run_id, const Key* key,
                             double max_norm);

/// The checks of unpack_update on a frame of `bytes` bytes at `frame`, in place and without a
/// copy: returns why it is rejected, or an empty string when accepted (its payload is then the
/// d floats at `frame + payload_offset()`). `frame` must be 4-byte aligned. Finiteness and the
/// norm bound take one pass over the payload.
std::string check_frame(const uint8_t* frame, int64_t bytes, int64_t d, int64_t expected_round,
                        int64_t sender, const std::string& run_id, const Key* key,
                        double max_norm);

/// Whether a check_frame refusal is for non-finite values: the frame's size, rank, round and
/// tag had passed, so with keys its sender provably sent NaN or Inf. A refusal of the size,
/// rank, round or tag may be a network adversary's doing to an honest sender's frame, and one
/// above the norm bound may be an honest gradient the user's bound was too tight for.
bool refused_as_non_finite(const std::string& why);

/// Where the payload starts in a frame (after the round, rank and d).
constexpr int64_t payload_offset() { return 3 * static_cast<int64_t>(sizeof(int64_t)); }

/// Writes the header and payload of a frame for `values` ([d] float32, contiguous) into `out`
/// (frame_bytes(d) bytes) and tags it under `key` (zero tag without one).
void write_frame(uint8_t* out, const at::Tensor& values, int64_t round, int64_t rank,
                 const std::string& run_id, const Key* key);

}  // namespace rampart::distributed
