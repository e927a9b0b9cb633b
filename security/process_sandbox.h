#pragma once

#include <cstdint>

namespace rampart::security {

/// The limits a sandboxed child runs under.
struct SandboxLimits {
  /// Address space the process may add to what it has now (RLIMIT_AS = current + this).
  int64_t memory_bytes = int64_t{4} << 30;
  int64_t cpu_seconds = 60;  ///< RLIMIT_CPU: SIGXCPU, then SIGKILL
  int64_t open_files = 64;   ///< RLIMIT_NOFILE
};

/// Confines the calling process, for good: RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE,
/// RLIMIT_FSIZE = 0 (writing to a file raises SIGXFSZ, which kills), RLIMIT_CORE = 0, and a
/// seccomp filter (libseccomp) that kills the process on execve, execveat, socket, connect
/// and ptrace. Meant for a child fresh from fork (the sandboxed probe). Returns false when the
/// seccomp filter could not be installed; the caller must then not go on.
///
/// Example:
///   if (fork() == 0) { if (!security::confine_process({})) _exit(3); run_untrusted(); }
bool confine_process(const SandboxLimits& limits);

}  // namespace rampart::security
