#include "security/model_intake.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "core/error.h"
#include "security/inspection_error.h"
#include "security/signature.h"

namespace rampart::security {
namespace {

struct DigestDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Digest = std::unique_ptr<EVP_MD_CTX, DigestDeleter>;

Digest new_digest() {
  Digest ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
  }
  return ctx;
}

std::string finish_hex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, digest, &len) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace

std::string sha256_hex(const std::string& bytes) {
  Digest ctx = new_digest();
  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
  return finish_hex(ctx.get());
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open for hashing");
  Digest ctx = new_digest();
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw DataError(path + ": read failed while hashing");
  return finish_hex(ctx.get());
}

ModelFile read_model_file(const std::string& path, const IntakeOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DataError(path + ": model file not found");
  if (!fs::is_regular_file(path, ec)) throw DataError(path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the model file");
  // Read through the open stream up to one byte past the limit, so a file that grows or a
  // size that lies cannot make us read more than the limit.
  const auto limit = static_cast<std::size_t>(options.policy.max_model_bytes);
  ModelFile file;
  file.path = path;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    file.bytes.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (file.bytes.size() > limit) {
      throw ModelRejected(path + ": model file is larger than security.max_model_bytes (" +
                          std::to_string(options.policy.max_model_bytes) + " bytes)");
    }
  }
  if (in.bad()) throw DataError(path + ": read failed");
  file.sha256 = sha256_hex(file.bytes);
  if (!options.sha256.empty()) {
    if (options.sha256 != file.sha256) {
      throw ModelRejected(path + ": SHA-256 is " + file.sha256 + " but the pin is " +
                          options.sha256);
    }
    file.verified_by.push_back("sha256_pin");
  } else if (options.policy.allowlist && options.policy.allowlist->contains(file.sha256)) {
    file.verified_by.push_back("allowlist");
  }
  if (!options.signature.empty() || !options.public_key.empty()) {
    verify_ed25519(file.bytes, options.signature, options.public_key, path);
    file.verified_by.push_back("signature");
  }
  if (options.own_output) file.verified_by.push_back("own_output");
  if (!file.pinned() && !options.policy.allow_unpinned) {
    const std::string listed =
        options.policy.allowlist ? ", add it to " + options.policy.allowlist->file : "";
    throw ModelRejected(path + ": model file is not pinned (its SHA-256 is " + file.sha256 +
                        "); pin it with 'sha256: " + file.sha256 + "'" + listed +
                        ", sign it, or accept it unpinned with security.allow_unpinned: true "
                        "(--allow-unpinned)");
  }
  try {
    file.format = decide_model_format(file.bytes);
  } catch (const InspectionError& e) {
    throw ModelRejected(path + ": rejected by the model intake (" + e.code() + "): " + e.what());
  }
  return file;
}

}  // namespace rampart::security
