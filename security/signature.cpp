#include "security/signature.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <iterator>
#include <memory>

#include "core/error.h"

namespace rampart::security {
namespace {

std::string read_small_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the " + what);
  std::string out;
  char chunk[4096];
  while (in && out.size() <= 65536) {
    in.read(chunk, sizeof(chunk));
    out.append(chunk, static_cast<std::size_t>(in.gcount()));
  }
  if (out.size() > 65536) throw DataError(path + ": the " + what + " is larger than 64 KiB");
  return out;
}

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct ContextDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// The Ed25519 key (public or private) in the PEM file `path`; DataError when it is none.
std::unique_ptr<EVP_PKEY, KeyDeleter> read_ed25519_key(const std::string& path, bool private_key) {
  const char* what = private_key ? "private key" : "public key";
  const std::string pem = read_small_file(path, what);
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      !bio ? nullptr
           : private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                         : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    throw DataError(path + ": not an Ed25519 " + what + " in PEM form");
  }
  return key;
}

}  // namespace

bool ed25519_verifies(const std::string& bytes, const std::string& signature_path,
                      const std::string& public_key_path) {
  const auto key = read_ed25519_key(public_key_path, /*private_key=*/false);
  const std::string signature = read_small_file(signature_path, "signature");
  if (signature.size() != 64) {
    throw DataError(signature_path + ": an Ed25519 signature is 64 bytes, this file has " +
                    std::to_string(signature.size()));
  }
  std::unique_ptr<EVP_MD_CTX, ContextDeleter> ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                          bytes.size()) == 1;
}

void verify_ed25519(const std::string& bytes, const std::string& signature_path,
                    const std::string& public_key_path, const std::string& model_path) {
  if (!ed25519_verifies(bytes, signature_path, public_key_path)) {
    throw ModelRejected(model_path + ": the Ed25519 signature " + signature_path +
                        " does not verify with the public key " + public_key_path);
  }
}

std::string sign_ed25519(const std::string& bytes, const std::string& private_key_path) {
  const auto key = read_ed25519_key(private_key_path, /*private_key=*/true);
  std::unique_ptr<EVP_MD_CTX, ContextDeleter> ctx(EVP_MD_CTX_new());
  std::string signature(64, '\0');
  std::size_t length = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()) != 1 ||
      length != 64) {
    throw DataError(private_key_path + ": signing with this key failed");
  }
  return signature;
}

}  // namespace rampart::security
