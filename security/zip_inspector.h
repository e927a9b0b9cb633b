#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "security/inspection_error.h"

namespace rampart::security {

/// Limits on what a model archive may hold.
struct ArchiveLimits {
  int64_t max_entries = 65536;
  int64_t max_entry_bytes = int64_t{4} << 30;  ///< one record, uncompressed
  int64_t max_total_bytes = int64_t{8} << 30;  ///< all records, uncompressed
  /// A deflated record (code, debug info) may inflate to at most this many bytes.
  int64_t max_deflated_entry_bytes = int64_t{64} << 20;
  /// PyTorch deflates only its code records (`code/`, `*.debug_pkl`); these may be deflated
  /// (inflated into a buffer of the declared size, no more). Any other compressed record is
  /// rejected unless this is set.
  bool allow_compressed_data = false;
};

/// One record of an archive, as its central directory and local header agree it is.
struct ArchiveEntry {
  std::string name;  ///< full name, prefix included
  uint16_t method = 0;  ///< 0 stored, 8 deflated
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;         ///< uncompressed
  uint64_t data_offset = 0;  ///< where its bytes start in the file
};

/// A zip archive that passed every structural check.
struct Archive {
  std::string prefix;  ///< the one top-level directory ("model" for "model/data.pkl")
  std::vector<ArchiveEntry> entries;
  uint64_t total_bytes = 0;  ///< sum of the uncompressed sizes
  /// full name, case folded -> position in `entries` (no two names are equal up to case)
  std::unordered_map<std::string, std::size_t> index;

  /// The entry named `prefix/relative` up to case, as libtorch's reader finds it, or nullptr.
  const ArchiveEntry* find(const std::string& relative) const;
};

/// `name` in lower case (ASCII): how libtorch's zip reader compares record names.
std::string folded_name(std::string name);

/// Inspects a zip archive held in memory, strictly, as torch.jit.save writes one: the
/// end-of-central-directory record (and its zip64 form) is consistent, is the last 22 bytes (no
/// comment), and the records tile the file from byte 0 to the directory (no prefix, no gaps);
/// no two names are equal up to case (libtorch looks names up ignoring case); every central entry has a clean relative
/// name (no "..", no absolute path, no backslash, no NUL or control character, no empty
/// component) under one common prefix directory; no name repeats; each local header agrees
/// with its central entry (name, flags, method, CRC and sizes, or its data descriptor); the
/// records lie inside the file without overlapping; the CRC-32 of every record is right (a
/// deflated one is inflated into a buffer of its declared size, never more); no record is
/// encrypted, compressed where PyTorch stores, or itself an archive; and the limits hold.
/// Throws InspectionError with the first problem found.
Archive inspect_archive(std::string_view bytes, const ArchiveLimits& limits = {});

/// The uncompressed bytes of one record of an inspected archive.
std::string read_entry(std::string_view bytes, const ArchiveEntry& entry);

/// True when `bytes` starts like a zip archive (a local file header or an empty archive).
bool looks_like_zip(std::string_view bytes);

}  // namespace rampart::security
