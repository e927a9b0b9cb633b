#pragma once

#include <stdexcept>
#include <string>

namespace rampart {

/// Process exit codes, the same for every subcommand (DESIGN.md).
enum class ExitCode : int {
  kOk = 0,
  kGateFailed = 1,     ///< a gate failed (or a sanity check under --strict)
  kUsage = 2,          ///< usage or config error
  kModelRejected = 3,  ///< a model file was rejected by intake checks
  kDataError = 4,      ///< data or I/O error
  kInternal = 5,       ///< internal error
  /// `rampart scan` only: the model loaded and its graph passed, but it was never run (no
  /// input shape given or inferred), so its forward pass is unchecked.
  kLoadedNotRun = 6,
};

/// An error a user can cause. Carries the exit code the CLI returns; `what()` is one clear
/// sentence naming the file/key and the problem. Caught once, in cli/main.cpp.
///
/// Example:
///   throw DataError("labels.idx: header says 60000 items but the file holds 59999");
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

/// Usage or config error (exit 2). Messages name file:line:column and the key path.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message) : Error(ExitCode::kUsage, message) {}
};

/// A model file failed intake checks or does not fit the declared model (exit 3).
class ModelRejected : public Error {
 public:
  explicit ModelRejected(const std::string& message) : Error(ExitCode::kModelRejected, message) {}
};

/// Data or I/O error (exit 4): unreadable, truncated or malformed data files.
class DataError : public Error {
 public:
  explicit DataError(const std::string& message) : Error(ExitCode::kDataError, message) {}
};

}  // namespace rampart
