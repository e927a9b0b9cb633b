#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

/// Per-message authentication for distributed training. c10d (TCPStore, Gloo) has none: anyone
/// who reaches the store can join and send (PyTorch's SECURITY.md), so every update carries an
/// HMAC-SHA256 tag (OpenSSL) under its sender's key over (run id, round, rank, SHA-256 of the
/// payload). A forged, tampered, replayed or out-of-round message fails the check.
namespace rampart::distributed {

using Key = std::array<uint8_t, 32>;
using Tag = std::array<uint8_t, 32>;

/// The workers' keys by rank. Rank 0, the aggregator, signs the broadcast aggregate with its own.
struct KeyRing {
  std::map<int64_t, Key> keys;
  bool has(int64_t rank) const { return keys.count(rank) > 0; }
  const Key& at(int64_t rank) const { return keys.at(rank); }
};

/// Reads a key file: one line per rank, "<rank> <64 hex digits>"; '#' starts a comment.
/// Throws ConfigError naming the file and line for a malformed line or a repeated rank, and
/// when the file is readable by other users (keys must be private: chmod 600).
KeyRing read_key_file(const std::string& path);

/// SHA-256 of a payload (with SHA-NI about 1 GB/s here: the cost of authenticating an update).
using Digest = std::array<uint8_t, 32>;
Digest payload_digest(const uint8_t* payload, std::size_t payload_bytes);

/// HMAC-SHA256 under `key` of: run_id, round, rank (little-endian int64) and the payload's
/// digest. Tagging one payload for many ranks hashes it once.
Tag message_tag(const Key& key, const std::string& run_id, int64_t round, int64_t rank,
                const Digest& digest);

/// message_tag of the payload's digest.
Tag message_tag(const Key& key, const std::string& run_id, int64_t round, int64_t rank,
                const uint8_t* payload, std::size_t payload_bytes);

/// Constant-time tag comparison (CRYPTO_memcmp).
bool tags_equal(const Tag& a, const Tag& b);

}  // namespace rampart::distributed
