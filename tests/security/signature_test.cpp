// Ed25519 detached signatures: a file signed with the key verifies; a changed byte, another
// key or a malformed signature is refused. The openssl command line of docs/security.md makes
// signatures that `rampart scan` accepts.
#include "security/signature.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "security/model_intake.h"
#include "support/test_support.h"
#include "zip_builder.h"

using namespace rampart;

namespace {

// A fresh Ed25519 key pair: writes the public key (PEM) to `public_path`, returns the key.
std::shared_ptr<EVP_PKEY> new_key(const std::string& public_path) {
  EVP_PKEY* key = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  REQUIRE(EVP_PKEY_keygen_init(ctx.get()) == 1);
  REQUIRE(EVP_PKEY_keygen(ctx.get(), &key) == 1);
  std::shared_ptr<EVP_PKEY> out(key, EVP_PKEY_free);
  FILE* f = std::fopen(public_path.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  return out;
}

std::string sign(EVP_PKEY* key, const std::string& bytes) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string signature(64, '\0');
  std::size_t length = signature.size();
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1);
  REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                         reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()) == 1);
  REQUIRE(length == 64);
  return signature;
}

}  // namespace

TEST_CASE("signature: Ed25519 over the file as read, tampering and other keys are refused",
          "[security][signature]") {
  const std::string dir = test::make_temp_dir("signature");
  const std::string model = test::small_cnn_archive();
  test::write_bytes(dir + "/model.pt", model);
  auto key = new_key(dir + "/signer.pub.pem");
  auto other = new_key(dir + "/other.pub.pem");
  test::write_bytes(dir + "/model.pt.sig", sign(key.get(), model));

  security::IntakeOptions intake;
  intake.signature = dir + "/model.pt.sig";
  intake.public_key = dir + "/signer.pub.pem";
  CHECK_NOTHROW(security::read_model_file(dir + "/model.pt", intake));

  std::string tampered = model;
  tampered[tampered.size() / 2] ^= 1;
  test::write_bytes(dir + "/tampered.pt", tampered);
  CHECK_THROWS_WITH(security::read_model_file(dir + "/tampered.pt", intake),
                    Catch::Contains("tampered.pt: the Ed25519 signature") &&
                        Catch::Contains("does not verify"));
  security::IntakeOptions wrong_key = intake;
  wrong_key.public_key = dir + "/other.pub.pem";
  CHECK_THROWS_AS(security::read_model_file(dir + "/model.pt", wrong_key), ModelRejected);
  test::write_bytes(dir + "/short.sig", "abc");
  security::IntakeOptions short_signature = intake;
  short_signature.signature = dir + "/short.sig";
  CHECK_THROWS_WITH(security::read_model_file(dir + "/model.pt", short_signature),
                    Catch::Contains("an Ed25519 signature is 64 bytes"));
  security::IntakeOptions not_a_key = intake;
  not_a_key.public_key = dir + "/model.pt.sig";
  CHECK_THROWS_AS(security::read_model_file(dir + "/model.pt", not_a_key), DataError);
}

TEST_CASE("signature: the openssl command line of docs/security.md signs what scan accepts",
          "[security][signature]") {
  if (!std::filesystem::exists("/usr/bin/openssl")) return;
  const std::string dir = test::make_temp_dir("signature-cli");
  test::write_bytes(dir + "/model.pt", test::small_cnn_archive());
  const std::string openssl = "/usr/bin/openssl";
  REQUIRE(test::run_process({openssl, "genpkey", "-algorithm", "ed25519", "-out",
                             dir + "/signer.key.pem"})
              .exit_code == 0);
  REQUIRE(test::run_process({openssl, "pkey", "-in", dir + "/signer.key.pem", "-pubout", "-out",
                             dir + "/signer.pub.pem"})
              .exit_code == 0);
  const auto signed_ = test::run_process({openssl, "pkeyutl", "-sign", "-inkey",
                                          dir + "/signer.key.pem", "-rawin", "-in",
                                          dir + "/model.pt", "-out", dir + "/model.pt.sig"});
  INFO(signed_.output);
  REQUIRE(signed_.exit_code == 0);
  const auto ok = test::run_process({test::rampart_binary(), "scan", dir + "/model.pt",
                                     "--signature", dir + "/model.pt.sig", "--public-key",
                                     dir + "/signer.pub.pem"});
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  std::string tampered = test::small_cnn_archive();
  tampered[100] ^= 1;
  test::write_bytes(dir + "/model.pt", tampered);
  const auto refused = test::run_process({test::rampart_binary(), "scan", dir + "/model.pt",
                                          "--signature", dir + "/model.pt.sig", "--public-key",
                                          dir + "/signer.pub.pem"});
  CHECK(refused.exit_code == 3);
  CHECK(refused.output.find("does not verify") != std::string::npos);
}
