#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::test {

/// One record of a hand-built zip archive, with knobs that break it on purpose.
struct ZipRecord {
  ZipRecord() = default;
  ZipRecord(std::string name_, std::string data_) : name(std::move(name_)), data(std::move(data_)) {}
  std::string name;
  std::string data;             ///< what the record holds (deflated when `deflate` is set)
  bool deflate = false;         ///< method 8 with zlib's raw deflate
  std::string local_name;       ///< non-empty: the local header says this name instead
  uint16_t local_flags = 0;     ///< XORed into the local header's flags
  bool bad_crc = false;         ///< both headers carry a wrong CRC-32
  uint64_t declared_size = 0;   ///< non-zero: the uncompressed size both headers declare
  uint16_t flags = 0x0800;      ///< general-purpose flags (UTF-8 names, as PyTorch writes)
};

/// The low `width` bytes of `value`, least significant first (zip and pickle fields).
std::string little_endian(uint64_t value, int width);

/// A zip archive of `records` (stored unless told otherwise), in the layout PyTorch writes
/// minus its alignment padding: local header + data per record, central directory, end record.
std::string build_zip(const std::vector<ZipRecord>& records);

/// `zip` (no zip64, no comment) placed after `prefix`, with every offset in its central directory
/// and end record moved by the prefix's length: a consistent archive that does not start at
/// byte 0, as self-extracting archives and polyglots are built.
std::string with_prefix(const std::string& prefix, const std::string& zip);

/// A TorchScript archive as libtorch writes it: the small CNN (seed 0) exported by Rampart.
std::string small_cnn_archive();

/// The records of a zip archive as (name, uncompressed bytes), read with Rampart's inspector.
std::vector<ZipRecord> read_zip(const std::string& bytes);

}  // namespace rampart::test
