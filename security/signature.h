#pragma once

#include <string>

namespace rampart::security {

/// Checks an Ed25519 detached signature over `bytes` (the model file as the intake read it):
/// `signature_path` holds the 64-byte raw signature (`openssl pkeyutl -sign -rawin`), and
/// `public_key_path` the signer's public key as PEM (`openssl pkey -pubout`). Throws
/// ModelRejected naming `model_path` when the signature does not verify, and DataError when
/// the key or signature file cannot be read or parsed.
///
/// Example (the keys and signature made with the openssl command line, docs/security.md):
///   security::verify_ed25519(file.bytes, "model.pt.sig", "signer.pub.pem", "model.pt");
void verify_ed25519(const std::string& bytes, const std::string& signature_path,
                    const std::string& public_key_path, const std::string& model_path);

/// Whether the Ed25519 signature in `signature_path` (64 raw bytes) verifies `bytes` under the
/// PEM public key in `public_key_path`. Throws DataError when either file cannot be read or
/// parsed.
bool ed25519_verifies(const std::string& bytes, const std::string& signature_path,
                      const std::string& public_key_path);

/// The 64-byte Ed25519 signature of `bytes` under the PEM private key in `private_key_path`
/// (`openssl genpkey -algorithm ed25519`). Throws DataError when the key cannot be read.
std::string sign_ed25519(const std::string& bytes, const std::string& private_key_path);

}  // namespace rampart::security
