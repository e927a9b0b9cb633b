#include "distributed/update_frame.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <sstream>

namespace rampart::distributed {
namespace {

constexpr int64_t kHeader = 3 * sizeof(int64_t);
constexpr int64_t kTag = 32;

int64_t read_int64(const uint8_t* p) {
  int64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

int64_t frame_bytes(int64_t d) { return kHeader + d * static_cast<int64_t>(sizeof(float)) + kTag; }

at::Tensor pack_update(const at::Tensor& update, int64_t round, int64_t rank,
                       const std::string& run_id, const Key* key) {
  const at::Tensor values = update.detach().to(at::kCPU, at::kFloat).contiguous().flatten();
  const int64_t d = values.numel();
  at::Tensor frame = at::zeros({frame_bytes(d)}, at::TensorOptions().dtype(at::kByte));
  uint8_t* p = frame.data_ptr<uint8_t>();
  const int64_t header[3] = {round, rank, d};
  std::memcpy(p, header, sizeof(header));
  const auto payload_bytes = static_cast<std::size_t>(d) * sizeof(float);
  std::memcpy(p + kHeader, values.data_ptr<float>(), payload_bytes);
  if (key) {
    const Tag tag = message_tag(*key, run_id, round, rank, p + kHeader, payload_bytes);
    std::memcpy(p + kHeader + payload_bytes, tag.data(), tag.size());
  }
  return frame;
}

ReceivedUpdate unpack_update(const at::Tensor& frame, int64_t d, int64_t expected_round,
                             int64_t sender, const std::string& run_id, const Key* key,
                             double max_norm) {
  ReceivedUpdate out;
  if (frame.scalar_type() != at::kByte || frame.numel() != frame_bytes(d)) {
    out.rejected = "wrong size: " + std::to_string(frame.numel()) + " bytes for " +
                   std::to_string(d) + " values";
    return out;
  }
  const at::Tensor bytes = frame.contiguous();
  const uint8_t* p = bytes.data_ptr<uint8_t>();
  const int64_t round = read_int64(p), rank = read_int64(p + 8), size = read_int64(p + 16);
  if (size != d) {
    out.rejected = "wrong shape: " + std::to_string(size) + " values, expected " + std::to_string(d);
    return out;
  }
  if (rank != sender) {
    out.rejected = "claims rank " + std::to_string(rank) + " from rank " + std::to_string(sender) + "'s slot";
    return out;
  }
  if (round != expected_round) {
    out.rejected = "round " + std::to_string(round) + " in round " + std::to_string(expected_round) +
                   (round < expected_round ? " (replayed)" : " (out of round)");
    return out;
  }
  const auto payload_bytes = static_cast<std::size_t>(d) * sizeof(float);
  if (key) {
    Tag received{};
    std::memcpy(received.data(), p + kHeader + payload_bytes, received.size());
    if (!tags_equal(received, message_tag(*key, run_id, round, rank, p + kHeader, payload_bytes))) {
      out.rejected = "bad authentication tag (forged or tampered)";
      return out;
    }
  }
  at::Tensor values = at::empty({d}, at::TensorOptions().dtype(at::kFloat));
  std::memcpy(values.data_ptr<float>(), p + kHeader, payload_bytes);
  if (!values.isfinite().all().item<bool>()) {
    out.rejected = "non-finite values (NaN or Inf)";
    return out;
  }
  if (max_norm > 0) {
    const double norm = values.norm().item<double>();
    if (norm > max_norm) {
      std::ostringstream text;
      text << "norm " << norm << " above the bound " << max_norm;
      out.rejected = text.str();
      return out;
    }
  }
  out.update = values;
  return out;
}

}  // namespace rampart::distributed
