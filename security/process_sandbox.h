#pragma once

#include <cstdint>
#include <vector>

namespace rampart::security {

/// The limits a sandboxed child runs under.
struct SandboxLimits {
  /// Address space the process may add to what it has now (RLIMIT_AS = current + this).
  int64_t memory_bytes = int64_t{4} << 30;
  int64_t cpu_seconds = 60;  ///< RLIMIT_CPU: SIGXCPU, then SIGKILL; 0: no limit
  int64_t open_files = 64;   ///< RLIMIT_NOFILE
  /// Descriptors the child keeps (its pipe back to the parent). Every other descriptor it
  /// inherited is closed, and 0, 1 and 2 read from and write to /dev/null: what the model
  /// prints reaches nobody, and the pipe is the only channel back.
  std::vector<int> keep_descriptors;
};

/// Confines the calling process, for good. Meant for a child fresh from fork that holds in
/// memory everything it needs (the model's bytes, the data), before any untrusted code runs:
/// - descriptors: every inherited one is closed but `keep_descriptors`; 0, 1, 2 go to /dev/null;
/// - rlimits: RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_FSIZE = 0 (writing to a file raises
///   SIGXFSZ, which kills), RLIMIT_CORE = 0;
/// - Landlock, where the kernel offers it: no file-system access of any kind;
/// - seccomp (libseccomp): opening any path (open, openat, openat2, creat) fails with EACCES,
///   a file-backed mmap fails with EACCES, and the process is killed (SIGSYS) on execve, on
///   every socket call, on anything that changes the file system (truncate, rename, unlink,
///   mkdir, link, chmod, chown, mknod, xattrs, mount), on a new process (fork, vfork, clone
///   without CLONE_THREAD; clone3 answers ENOSYS), ptrace, reading or writing
///   another process's memory, kernel modules, bpf, io_uring, namespaces, and on kill/tgkill
///   aimed at any other process.
/// Returns false when a step could not be taken; the caller must then not go on.
///
/// Example:
///   security::SandboxLimits limits;
///   limits.keep_descriptors = {pipe_fd};
///   if (fork() == 0) { if (!security::confine_process(limits)) _exit(3); run_untrusted(); }
bool confine_process(const SandboxLimits& limits);

/// For its lifetime, the calling process may map at most `extra_bytes` more address space
/// than it has now (the soft RLIMIT_AS; never above the hard limit): an allocation beyond it
/// fails (std::bad_alloc) instead of exhausting the machine. The previous soft limit is restored
/// afterwards. Process-wide: meant for a single-threaded phase such as the static inspection.
class AddressSpaceCap {
 public:
  explicit AddressSpaceCap(int64_t extra_bytes);
  ~AddressSpaceCap();
  AddressSpaceCap(const AddressSpaceCap&) = delete;
  AddressSpaceCap& operator=(const AddressSpaceCap&) = delete;

 private:
  bool set_ = false;
  unsigned long previous_ = 0;
};

/// Whether this kernel enforces Landlock (then confine_process adds it), for reports and tests.
bool landlock_available();

}  // namespace rampart::security
