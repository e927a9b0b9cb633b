#include "distributed/message_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace rampart::distributed {
namespace {

bool parse_hex_key(const std::string& hex, Key& key) {
  if (hex.size() != 64) return false;
  for (std::size_t i = 0; i < 32; ++i) {
    unsigned value = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(hex[2 * i + k])));
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
      value = value * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10);
    }
    key[i] = static_cast<uint8_t>(value);
  }
  return true;
}

void append_int64(std::string& out, int64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF));
}

}  // namespace

KeyRing read_key_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw ConfigError(path + ": key file not found");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw ConfigError(path + ": key file is readable by other users; keys must be private "
                      "(chmod 600 " + path + ")");
  }
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the key file");
  KeyRing ring;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string rank_text, hex, extra;
    if (!(fields >> rank_text)) continue;  // blank or comment
    const std::string where = path + ":" + std::to_string(number) + ": ";
    int64_t rank = -1;
    try {
      std::size_t used = 0;
      rank = std::stoll(rank_text, &used);
      if (used != rank_text.size()) rank = -1;
    } catch (const std::exception&) {
      rank = -1;
    }
    Key key{};
    if (rank < 0 || !(fields >> hex) || (fields >> extra) || !parse_hex_key(hex, key)) {
      throw ConfigError(where + "expected '<rank> <64 hex digits>'");
    }
    if (!ring.keys.emplace(rank, key).second) {
      throw ConfigError(where + "rank " + std::to_string(rank) + " has a key already");
    }
  }
  if (ring.keys.empty()) throw ConfigError(path + ": the key file has no keys");
  return ring;
}

Digest payload_digest(const uint8_t* payload, std::size_t payload_bytes) {
  Digest digest{};
  SHA256(payload, payload_bytes, digest.data());
  return digest;
}

Tag message_tag(const Key& key, const std::string& run_id, int64_t round, int64_t rank,
                const Digest& digest) {
  std::string message;
  append_int64(message, static_cast<int64_t>(run_id.size()));
  message += run_id;
  append_int64(message, round);
  append_int64(message, rank);
  message.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  Tag tag{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), tag.data(), &length);
  return tag;
}

Tag message_tag(const Key& key, const std::string& run_id, int64_t round, int64_t rank,
                const uint8_t* payload, std::size_t payload_bytes) {
  return message_tag(key, run_id, round, rank, payload_digest(payload, payload_bytes));
}

bool tags_equal(const Tag& a, const Tag& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace rampart::distributed
