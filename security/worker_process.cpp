#include "security/worker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace rampart::security {
namespace {

constexpr uint32_t kFrameMagic = 0x4b525752;  // "RWRK"

struct FrameHeader {
  uint32_t magic = kFrameMagic;
  uint32_t kind = 0;
  uint64_t size = 0;
};

}  // namespace

WorkerProcess spawn_worker(const std::string& executable, const std::vector<std::string>& args,
                           const std::vector<int>& inputs) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("worker: pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // Every source descriptor is first moved above the targets, so that no dup2 overwrites a
  // source that a later one still needs.
  std::vector<int> sources{fds[1]};
  sources.insert(sources.end(), inputs.begin(), inputs.end());
  int base = kWorkerFirstInput + static_cast<int>(inputs.size());
  for (int fd : sources) base = std::max(base, fd + 1);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, sources[i], base + static_cast<int>(i));
  }
  for (std::size_t i = 0; i < sources.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, base + static_cast<int>(i),
                                     kWorkerOutput + static_cast<int>(i));
    posix_spawn_file_actions_addclose(&actions, base + static_cast<int>(i));
  }
  // Only what the runtime reads (the loader, OpenMP and BLAS threads, glibc's heap, CUDA,
  // locale): the rest of the environment (CI tokens, cloud keys) never reaches the process
  // that runs the model, where a compromised model could send it back in an error message.
  static const char* const kKept[] = {"LD_LIBRARY_PATH=", "OMP_", "GOMP_", "KMP_", "OPENBLAS_",
                                      "MKL_", "GLIBC_TUNABLES=", "MALLOC_", "RAMPART_HEAP_TUNING=",
                                      "CUDA_", "NVIDIA_", "LANG=", "LC_", "TZ="};
  std::vector<char*> env;
  for (char** e = environ; e && *e; ++e) {
    for (const char* prefix : kKept) {
      if (std::strncmp(*e, prefix, std::strlen(prefix)) == 0) {
        env.push_back(*e);
        break;
      }
    }
  }
  env.push_back(nullptr);
  std::vector<char*> argv{const_cast<char*>(executable.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc =
      posix_spawn(&pid, executable.c_str(), &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + executable + ": " + std::strerror(rc));
  }
  return {pid, fds[0]};
}

bool write_frame(int fd, uint32_t kind, const std::string& payload) {
  FrameHeader h;
  h.kind = kind;
  h.size = payload.size();
  const auto put = [fd](const char* p, std::size_t size) {
    while (size > 0) {
      const ssize_t n = write(fd, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      p += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  };
  return put(reinterpret_cast<const char*>(&h), sizeof(h)) && put(payload.data(), payload.size());
}

bool read_exactly(int fd, char* out, std::size_t size,
                  std::chrono::steady_clock::time_point deadline, bool& timed_out) {
  std::size_t got = 0;
  while (got < size) {
    const double left =
        std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      return false;
    }
    struct pollfd p {
      fd, POLLIN, 0
    };
    const double wait_ms = std::min(std::ceil(left * 1000), 2.0e9);
    const int ready = poll(&p, 1, static_cast<int>(wait_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      return false;
    }
    const ssize_t n = read(fd, out + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // the writer closed the pipe: exited or died
    got += static_cast<std::size_t>(n);
  }
  return true;
}

FrameStatus read_frame(int fd, double timeout_seconds, uint64_t max_payload, Frame& out) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(timeout_seconds));
  FrameHeader h;
  bool timed_out = false;
  if (!read_exactly(fd, reinterpret_cast<char*>(&h), sizeof(h), deadline, timed_out)) {
    return timed_out ? FrameStatus::kTimedOut : FrameStatus::kClosed;
  }
  if (h.magic != kFrameMagic || h.size > max_payload) return FrameStatus::kMalformed;
  out.kind = h.kind;
  out.payload.assign(h.size, '\0');
  if (!read_exactly(fd, out.payload.data(), out.payload.size(), deadline, timed_out)) {
    return timed_out ? FrameStatus::kTimedOut : FrameStatus::kClosed;
  }
  return FrameStatus::kFrame;
}

int reap_worker(pid_t pid, bool kill_it, double grace_seconds) {
  int status = 0;
  if (!kill_it) {
    // A worker that has answered (or closed its pipe) but does not exit is killed after the
    // grace period, not waited for: a compromised one could otherwise hold the run forever.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration<double>(std::max(0.0, grace_seconds));
    for (;;) {
      const pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) return status;
      if (r < 0 && errno != EINTR) return status;
      if (std::chrono::steady_clock::now() >= deadline) break;
      usleep(10000);
    }
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string termination_reason(int status, const std::string& who) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status) == 0
               ? ""
               : who + " exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (!WIFSIGNALED(status)) return who + " ended abnormally";
  const int sig = WTERMSIG(status);
  switch (sig) {
    case SIGSYS:
      return "the model made a forbidden system call (exec, network, file-system change, a new "
             "process or a signal to another)";
    case SIGXCPU:
      return "the model used more than its CPU-time limit";
    case SIGXFSZ:
      return "the model tried to write a file";
    case SIGKILL:
      return who + " was killed (time or memory limit)";
    case SIGSEGV:
    case SIGBUS:
      return who + " crashed (signal " + std::to_string(sig) + ") while loading or running it";
    case SIGABRT:
      return who + " aborted (out of memory or a failed check in libtorch)";
    default:
      return who + " died from signal " + std::to_string(sig);
  }
}

}  // namespace rampart::security
