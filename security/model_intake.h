#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "security/allowlist.h"
#include "security/model_format.h"
#include "security/sandbox_probe.h"

namespace rampart::security {

/// Limits of the confined worker that runs a whole evaluation of an untrusted (TorchScript)
/// model (`security.sandbox`; eval::measure_in_sandbox).
struct WorkerLimits {
  /// Address space the worker may add once confined (RLIMIT_AS); beyond it an allocation fails
  /// and the evaluation stops with exit 3 (`memory_mib`).
  int64_t memory_bytes = int64_t{16} << 30;
  /// The longest the worker may go without finishing a model call, one forward of a batch (and
  /// the backward pass that follows it); a model that takes longer is killed and the evaluation
  /// stops with exit 3 (`call_seconds`). Loading the model counts as a call.
  double call_seconds = 300.0;
};

/// What every model file must pass, whatever names it: the `security:` section of a config
/// (security::parse_intake_policy).
struct IntakePolicy {
  /// Files larger than this are refused before they are read (`security.max_model_bytes`).
  int64_t max_model_bytes = int64_t{2} << 30;
  /// Accept a file that no pin, allowlist entry or signature vouches for
  /// (`security.allow_unpinned`, `--allow-unpinned`); the report then records it as unpinned.
  bool allow_unpinned = false;
  std::shared_ptr<const Allowlist> allowlist;  ///< `security.allowlist`; null: none
  /// The sandboxed probe every TorchScript model passes first (security::probe_model); its
  /// input_shape empty: inferred from the graph where it can be, else loaded and judged only.
  ProbeOptions probe_options;
  /// Operators refused on top of the built-in policy (`security.deny_operators`).
  std::vector<std::string> denied_operators;
  WorkerLimits worker;  ///< `security.sandbox`
};

/// How one model file is checked: its own pin and signature, and the policy.
struct IntakeOptions {
  /// Expected SHA-256 (lower-case hex); empty: the allowlist or a signature must vouch for the
  /// file, or the policy must allow unpinned files.
  std::string sha256;
  /// An Ed25519 detached signature over the file and the signer's PEM public key; both or
  /// neither (security::verify_ed25519).
  std::string signature;
  std::string public_key;
  /// The file was written by this training run under its `train.output` (the checkpoint a
  /// resume continues from, the kept epoch, a teacher it trained): it needs no pin.
  bool own_output = false;
  IntakePolicy policy;
};

/// A model file read once into memory. Loaders deserialize from `bytes`, never from the path
/// again, so what was checked is what is loaded.
struct ModelFile {
  std::string path;
  std::string bytes;
  std::string sha256;  ///< lower-case hex of `bytes`
  ModelFormat format = ModelFormat::kUnknown;  ///< decided once (security::decide_model_format)
  /// What vouched for the file: "sha256_pin", "allowlist", "signature", "own_output"; empty:
  /// nothing did, and the policy allowed it unpinned.
  std::vector<std::string> verified_by;
  bool pinned() const { return !verified_by.empty(); }
};

/// The single entry point for model files (TorchScript archives, safetensors checkpoints,
/// ensemble members, teachers): reads the file once under the size limit, hashes it, checks
/// the pin (or the allowlist) and the Ed25519 signature when one is given, and decides the
/// format once. Throws DataError (exit 4) when the file cannot be read, and ModelRejected
/// (exit 3) when it is too large, its hash does not match the pin, its signature does not
/// verify, nothing vouches for it and the policy does not allow unpinned files, or its format
/// is ambiguous (a polyglot, a FlatBuffer module).
/// TorchScript loading adds the archive, pickle and code inspection and the sandboxed probe
/// (models::load_torchscript).
///
/// Example:
///   security::IntakeOptions intake;
///   intake.sha256 = "9f2c...";  // or intake.policy.allow_unpinned = true
///   auto file = security::read_model_file("model.pt", intake);
///   std::cout << file.sha256;
ModelFile read_model_file(const std::string& path, const IntakeOptions& options);

/// SHA-256 of a byte string as lower-case hex (OpenSSL EVP).
std::string sha256_hex(const std::string& bytes);

/// SHA-256 of a file, streamed (for data-file provenance). Throws DataError naming the path.
std::string sha256_file(const std::string& path);

}  // namespace rampart::security
