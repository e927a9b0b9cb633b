#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rampart::models {

/// What `rampart scan` (and `rampart.scan` in Python) is asked to check.
struct ScanRequest {
  std::string path;
  std::string sha256;                 ///< the expected hash (a mismatch rejects)
  std::string signature, public_key;  ///< Ed25519 signature file and the signer's PEM key
  std::string allowlist;              ///< pinned hashes (sha256sum format)
  std::vector<int64_t> input;         ///< C, H, W: the probe also runs forward on zeros
};

/// Scans a model file without trusting it: reads it through the intake (an unpinned file is
/// reported as such, not rejected; a pin or signature that does not hold rejects), parses a
/// safetensors checkpoint or inspects a TorchScript archive without loading it, then loads and
/// runs an inspected archive in the sandboxed probe. The verdict as JSON: `verdict` (accepted |
/// loaded_not_run | rejected), `reasons` [{code, message}], `checked`, `sha256`, `bytes`,
/// `format`, `pinned`, `verified_by`, the archive summary, `globals`, `operators`, `probe`,
/// `seconds`.
nlohmann::json scan_model(const ScanRequest& request);

}  // namespace rampart::models
