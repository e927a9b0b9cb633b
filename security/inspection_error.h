#pragma once

#include <stdexcept>
#include <string>

namespace rampart::security {

/// Why a model file failed one of the intake's inspections: a stable short code (for tests,
/// `rampart scan --json` and CI logs) and one sentence for people.
///
/// Codes: not_an_archive, truncated, bad_directory, too_many_entries, entry_too_large,
/// total_too_large, bad_name, path_traversal, several_prefixes, duplicate_name,
/// header_mismatch, bad_crc, compressed_entry, encrypted_entry, overlapping_entries,
/// nested_archive, unsupported_version, missing_record, bad_pickle, forbidden_global,
/// bad_storage, tensor_too_large, unknown_operator, denied_operator.
class InspectionError : public std::runtime_error {
 public:
  InspectionError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace rampart::security
