#include "distributed/run_nonce.h"

#include <ATen/ATen.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

#include "security/model_intake.h"

namespace rampart::distributed {
namespace {

constexpr int64_t kNonceBytes = 16;

const Key& key_of(const KeyRing& keys, int64_t rank) {
  if (!keys.has(rank)) throw std::runtime_error("distributed: no key for rank " + std::to_string(rank));
  return keys.at(rank);
}

}  // namespace

std::string launch_run_id(GlooGroup& group, const std::string& config_hash, const KeyRing* keys) {
  const int64_t n = group.world_size();
  at::Tensor mine = at::empty({kNonceBytes}, at::TensorOptions().dtype(at::kByte));
  if (RAND_bytes(mine.data_ptr<uint8_t>(), static_cast<int>(kNonceBytes)) != 1) {
    throw std::runtime_error("distributed: the system's random source failed (RAND_bytes)");
  }
  const int64_t nonces_bytes = kNonceBytes * n;
  // The broadcast: every rank's nonce in rank order, then one tag per rank over all of them.
  at::Tensor reply = at::zeros({nonces_bytes + 32 * n}, at::TensorOptions().dtype(at::kByte));
  uint8_t* p = reply.data_ptr<uint8_t>();
  const at::Tensor gathered = group.gather_rows(mine);
  const std::string purpose = config_hash + "/launch-nonce";
  if (group.rank() == 0) {
    std::memcpy(p, gathered.contiguous().data_ptr<uint8_t>(), static_cast<std::size_t>(nonces_bytes));
    if (keys) {
      for (int64_t r = 0; r < n; ++r) {
        const int64_t receiver = group.original_rank(r);
        const Tag tag = message_tag(key_of(*keys, receiver), purpose, 0, receiver, p,
                                    static_cast<std::size_t>(nonces_bytes));
        std::memcpy(p + nonces_bytes + 32 * r, tag.data(), tag.size());
      }
    }
  }
  group.broadcast(reply);
  const int64_t me = group.original_rank(group.rank());
  if (std::memcmp(p + kNonceBytes * group.rank(), mine.data_ptr<uint8_t>(),
                  static_cast<std::size_t>(kNonceBytes)) != 0) {
    throw std::runtime_error("distributed: rank " + std::to_string(me) +
                             ": the launch nonce does not hold this rank's own (changed in transit)");
  }
  if (keys && group.rank() != 0) {
    Tag received{};
    std::memcpy(received.data(), p + nonces_bytes + 32 * group.rank(), received.size());
    const Tag expected =
        message_tag(key_of(*keys, me), purpose, 0, me, p, static_cast<std::size_t>(nonces_bytes));
    if (!tags_equal(received, expected)) {
      throw std::runtime_error("distributed: rank " + std::to_string(me) +
                               ": the launch nonce fails its authentication tag (changed in transit)");
    }
  }
  const std::string nonces(reinterpret_cast<const char*>(p), static_cast<std::size_t>(nonces_bytes));
  return config_hash + "/" + security::sha256_hex(nonces);
}

}  // namespace rampart::distributed
