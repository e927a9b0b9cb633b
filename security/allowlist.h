#pragma once

#include <set>
#include <string>

namespace rampart::security {

/// A file of pinned SHA-256 hashes (`security.allowlist`): any model file whose hash is listed
/// counts as pinned. The format is what `sha256sum` prints, so
/// `sha256sum models/*.pt > pinned.sha256` makes one: a hash (64 hex digits), optionally
/// followed by white space and a name (the name is a comment; only the hash is matched). Blank
/// lines and lines starting with `#` are skipped.
struct Allowlist {
  std::string file;
  std::set<std::string> sha256;  ///< lower-case hex
  bool contains(const std::string& hex) const { return sha256.count(hex) > 0; }
};

/// Reads an allowlist. Throws DataError (exit 4) when the file cannot be read and ConfigError
/// (exit 2) naming `file:line` for a line that is not a hash.
///
/// Example:
///   auto pins = security::read_allowlist("pinned.sha256");
///   bool ok = pins.contains(file.sha256);
Allowlist read_allowlist(const std::string& path);

}  // namespace rampart::security
