#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::security {

/// Limits of the sandboxed probe.
struct ProbeOptions {
  std::vector<int64_t> input_shape;  ///< the zero input [1, C, H, W]; empty: load only
  /// Address space the child may add to what it has at fork (RLIMIT_AS = current + this).
  int64_t memory_bytes = int64_t{4} << 30;
  int64_t cpu_seconds = 60;     ///< RLIMIT_CPU
  double wall_seconds = 60.0;   ///< the parent kills the child after this long
};

/// What the child reported, or why the model was rejected.
struct ProbeResult {
  bool accepted = false;
  std::string reason;  ///< empty when accepted
  std::vector<int64_t> output_shape;
  bool finite = false;
  double load_seconds = 0, forward_seconds = 0;
};

/// Loads the TorchScript archive in `bytes` in a forked child and runs one forward pass on a
/// zero input (when an input shape is given), before Rampart loads it in its own process. The child runs under RLIMIT_AS,
/// RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_FSIZE = 0 and RLIMIT_CORE = 0, and under a seccomp filter
/// (libseccomp) that kills it on execve, execveat, socket, connect and ptrace. It answers over
/// a pipe with a fixed-size header (magic, output shape, finite flag, load and forward time)
/// that the parent validates. A crash, a signal, a limit, a timeout, a malformed header or a
/// non-finite output rejects the model, with the reason in words.
ProbeResult probe_model(const std::string& bytes, const ProbeOptions& options);

}  // namespace rampart::security
