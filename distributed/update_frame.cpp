#include "distributed/update_frame.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <sstream>

namespace rampart::distributed {
namespace {

constexpr int64_t kHeader = payload_offset();
constexpr int64_t kTag = 32;

int64_t read_int64(const uint8_t* p) {
  int64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

int64_t frame_bytes(int64_t d) { return kHeader + d * static_cast<int64_t>(sizeof(float)) + kTag; }

void write_frame(uint8_t* out, const at::Tensor& values, int64_t round, int64_t rank,
                 const std::string& run_id, const Key* key) {
  const int64_t d = values.numel();
  const int64_t header[3] = {round, rank, d};
  std::memcpy(out, header, sizeof(header));
  const auto payload_bytes = static_cast<std::size_t>(d) * sizeof(float);
  std::memcpy(out + kHeader, values.data_ptr<float>(), payload_bytes);
  Tag tag{};
  if (key) tag = message_tag(*key, run_id, round, rank, out + kHeader, payload_bytes);
  std::memcpy(out + kHeader + payload_bytes, tag.data(), tag.size());
}

at::Tensor pack_update(const at::Tensor& update, int64_t round, int64_t rank,
                       const std::string& run_id, const Key* key) {
  const at::Tensor values = update.detach().to(at::kCPU, at::kFloat).contiguous().flatten();
  at::Tensor frame = at::empty({frame_bytes(values.numel())}, at::TensorOptions().dtype(at::kByte));
  write_frame(frame.data_ptr<uint8_t>(), values, round, rank, run_id, key);
  return frame;
}

namespace {
constexpr const char* kNonFinite = "non-finite values (NaN or Inf)";
constexpr const char* kNormPrefix = "norm ";
}  // namespace

bool refused_as_non_finite(const std::string& why) { return why == kNonFinite; }

std::string check_frame(const uint8_t* p, int64_t bytes, int64_t d, int64_t expected_round,
                        int64_t sender, const std::string& run_id, const Key* key,
                        double max_norm) {
  if (bytes != frame_bytes(d)) {
    return "wrong size: " + std::to_string(bytes) + " bytes for " + std::to_string(d) + " values";
  }
  const int64_t round = read_int64(p), rank = read_int64(p + 8), size = read_int64(p + 16);
  if (size != d) {
    return "wrong shape: " + std::to_string(size) + " values, expected " + std::to_string(d);
  }
  if (rank != sender) {
    return "claims rank " + std::to_string(rank) + " from rank " + std::to_string(sender) + "'s slot";
  }
  if (round != expected_round) {
    return "round " + std::to_string(round) + " in round " + std::to_string(expected_round) +
           (round < expected_round ? " (replayed)" : " (out of round)");
  }
  const auto payload_bytes = static_cast<std::size_t>(d) * sizeof(float);
  if (key) {
    Tag received{};
    std::memcpy(received.data(), p + kHeader + payload_bytes, received.size());
    if (!tags_equal(received, message_tag(*key, run_id, round, rank, p + kHeader, payload_bytes))) {
      return "bad authentication tag (forged or tampered)";
    }
  }
  // A view of the payload in place (the caller keeps the frame alive for this call).
  const at::Tensor values = at::from_blob(const_cast<uint8_t*>(p + kHeader), {d},
                                          at::TensorOptions().dtype(at::kFloat));
  // One pass: the norm is finite exactly when every value is, unless finite values overflow
  // float's range on the way (|x| around 1e19), which the slow path below tells apart.
  const double norm = values.norm().item<double>();
  if (!std::isfinite(norm) && !values.isfinite().all().item<bool>()) {
    return kNonFinite;
  }
  if (max_norm > 0 && !(norm <= max_norm)) {
    std::ostringstream text;
    text << kNormPrefix << norm << " above the bound " << max_norm;
    return text.str();
  }
  return {};
}

ReceivedUpdate unpack_update(const at::Tensor& frame, int64_t d, int64_t expected_round,
                             int64_t sender, const std::string& run_id, const Key* key,
                             double max_norm) {
  ReceivedUpdate out;
  if (frame.scalar_type() != at::kByte) {
    out.rejected = "wrong type: " + std::string(c10::toString(frame.scalar_type())) + " frame";
    return out;
  }
  const at::Tensor bytes = frame.contiguous();
  out.rejected = check_frame(bytes.data_ptr<uint8_t>(), bytes.numel(), d, expected_round, sender,
                             run_id, key, max_norm);
  if (!out.rejected.empty()) return out;
  out.update = at::empty({d}, at::TensorOptions().dtype(at::kFloat));
  std::memcpy(out.update.data_ptr<float>(), bytes.data_ptr<uint8_t>() + kHeader,
              static_cast<std::size_t>(d) * sizeof(float));
  return out;
}

}  // namespace rampart::distributed
