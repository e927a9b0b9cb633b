#pragma once

#include <cstdint>
#include <string>

#include "security/sandbox_probe.h"

namespace rampart::security {

/// Limits applied to every model file Rampart opens.
struct IntakeOptions {
  /// Files larger than this are refused before they are read (`security.max_model_bytes`).
  int64_t max_model_bytes = int64_t{2} << 30;
  /// Expected SHA-256 (lower-case hex); empty means unpinned.
  std::string sha256;
  /// An Ed25519 detached signature over the file and the signer's PEM public key; both or
  /// neither (security::verify_ed25519).
  std::string signature;
  std::string public_key;
  /// Load (and, with an input shape, run) TorchScript models in a sandboxed child first.
  bool probe = true;
  ProbeOptions probe_options;  ///< input_shape empty: the probe only loads the model
};

/// A model file read once into memory. Loaders deserialize from `bytes`, never from the path
/// again, so what was checked is what is loaded.
struct ModelFile {
  std::string path;
  std::string bytes;
  std::string sha256;  ///< lower-case hex of `bytes`
};

/// The single entry point for model files (TorchScript archives, safetensors checkpoints,
/// ensemble members, teachers): reads the file once under the size limit, hashes it, checks
/// the pin when one is given and the Ed25519 signature when one is given. Throws DataError (exit 4) when the file cannot be read
/// and ModelRejected (exit 3) when it is too large or its hash does not match the pin.
/// TorchScript loading adds the archive, pickle and code inspection and the sandboxed probe
/// (models::load_torchscript).
///
/// Example:
///   auto file = security::read_model_file("model.pt", {});
///   std::cout << file.sha256;
ModelFile read_model_file(const std::string& path, const IntakeOptions& options);

/// SHA-256 of a byte string as lower-case hex (OpenSSL EVP).
std::string sha256_hex(const std::string& bytes);

/// SHA-256 of a file, streamed (for data-file provenance). Throws DataError naming the path.
std::string sha256_file(const std::string& path);

}  // namespace rampart::security
