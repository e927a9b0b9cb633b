#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rampart::core {

/// Writes `bytes` to `path` atomically: a temporary file in the same folder is written,
/// flushed to disk and renamed over `path`, so readers see the old file or the new one,
/// never a torn one. Parent folders are created. Throws DataError (exit 4) naming the path.
///
/// Example:
///   core::write_file_atomic("runs/a/checkpoint.safetensors", bytes);
void write_file_atomic(const std::string& path, std::string_view bytes);

/// Creates the folder `path` and its parents where missing (an output folder). Throws
/// DataError (exit 4) naming the path when it cannot, or when `path` is not a folder.
void make_directories(const std::string& path);

/// Reads a whole file. Throws DataError naming the path when it cannot be opened or read,
/// or when it is larger than `max_bytes`.
std::string read_file(const std::string& path,
                      std::size_t max_bytes = static_cast<std::size_t>(-1));

}  // namespace rampart::core
