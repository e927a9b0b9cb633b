#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::test {

/// A fresh empty folder under the system temp dir, unique per call.
std::string make_temp_dir(const std::string& prefix);

/// Writes bytes to a file (tests' fixtures).
void write_bytes(const std::string& path, const std::string& bytes);

/// The file's bytes, or "" while it cannot be read yet (a log a child is still writing).
std::string file_text(const std::string& path);

/// What a finished child process left behind.
struct ProcessResult {
  int exit_code = -1;  ///< exit status, or 128 + signal number
  std::string output;  ///< stdout and stderr, interleaved
  int64_t minor_page_faults = 0;  ///< the child's minor page faults (getrusage's ru_minflt)
};

/// Runs `args` (args[0] is the program path) with stdout and stderr captured to a file.
ProcessResult run_process(const std::vector<std::string>& args);

/// The built `rampart` executable.
std::string rampart_binary();

/// Everything below `dir` that a hostile model could change, as one string: each entry's
/// relative path, type, permissions, size and bytes, in sorted order. Two equal snapshots mean
/// nothing was created, removed, renamed, truncated, rewritten or re-permissioned.
std::string directory_snapshot(const std::string& dir);

/// A python3 that can `import torch` (Debian's python3-torch), or "" when there is none.
std::string python_with_torch();

}  // namespace rampart::test
