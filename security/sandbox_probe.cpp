#include "security/sandbox_probe.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>

#include "security/process_sandbox.h"

namespace rampart::security {
namespace {

constexpr uint32_t kMagic = 0x52504d50;  // "RPMP"
constexpr int kMaxRank = 8;

// The child's answer: fixed size, every field checked by the parent.
struct Header {
  uint32_t magic = kMagic;
  int32_t status = 0;  // 0 ok, 1 load failed, 2 forward failed, 3 not a tensor, 4 memory
  int32_t rank = 0;
  int32_t finite = 0;
  int64_t shape[kMaxRank] = {};
  double load_seconds = 0, forward_seconds = 0;
  char message[256] = {};
};

void write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n <= 0) return;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

[[noreturn]] void child(const std::string& bytes, const ProbeOptions& o, int fd) {
  Header h;
  if (!confine_process({o.memory_bytes, o.cpu_seconds, 64})) {
    h.status = 1;
    std::snprintf(h.message, sizeof(h.message),
                  "the sandbox (limits, seccomp) could not be set up");
    write_all(fd, &h, sizeof(h));
    _exit(3);
  }
  at::set_num_threads(1);  // the parent's thread pool does not survive fork
  try {
    const auto t0 = std::chrono::steady_clock::now();
    std::istringstream stream(bytes);
    torch::jit::Module module = torch::jit::load(stream, c10::Device(c10::kCPU));
    module.eval();
    const auto t1 = std::chrono::steady_clock::now();
    h.load_seconds = std::chrono::duration<double>(t1 - t0).count();
    if (o.input_shape.empty()) {
      h.finite = 1;
      write_all(fd, &h, sizeof(h));
      _exit(0);
    }
    at::NoGradGuard no_grad;
    const c10::IValue out = module.forward({at::zeros(o.input_shape)});
    h.forward_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (!out.isTensor()) {
      h.status = 3;
    } else {
      const at::Tensor t = out.toTensor();
      h.rank = static_cast<int32_t>(std::min<int64_t>(t.dim(), kMaxRank + 1));
      for (int i = 0; i < std::min(h.rank, kMaxRank); ++i) h.shape[i] = t.size(i);
      h.finite = t.is_floating_point() && at::isfinite(t).all().item<bool>() ? 1 : 0;
    }
  } catch (const std::exception& e) {
    // libtorch puts a TorchScript traceback first and the cause last.
    const std::string what = e.what();
    const bool memory = what.find("can't allocate memory") != std::string::npos ||
                        what.find("bad_alloc") != std::string::npos ||
                        what.find("out of memory") != std::string::npos;
    std::string cause = what;
    while (!cause.empty() && (cause.back() == '\n' || cause.back() == ' ')) cause.pop_back();
    cause = cause.substr(cause.rfind('\n') == std::string::npos ? 0 : cause.rfind('\n') + 1);
    h.status = memory ? 4 : h.load_seconds > 0 ? 2 : 1;
    std::snprintf(h.message, sizeof(h.message), "%s", cause.c_str());
  } catch (...) {
    h.status = 4;  // std::bad_alloc and the like from outside libtorch
  }
  write_all(fd, &h, sizeof(h));
  _exit(0);
}

std::string signal_reason(int sig) {
  switch (sig) {
    case SIGSYS:
      return "the model made a forbidden system call (execve, socket, connect or ptrace)";
    case SIGXCPU:
      return "the model used more than its CPU-time limit";
    case SIGXFSZ:
      return "the model tried to write a file";
    case SIGKILL:
      return "the probe was killed (time or memory limit)";
    case SIGSEGV:
    case SIGBUS:
      return "the probe crashed (signal " + std::to_string(sig) + ") while loading or running it";
    case SIGABRT:
      return "the probe aborted (out of memory or a failed check in libtorch)";
    default:
      return "the probe died from signal " + std::to_string(sig);
  }
}

}  // namespace

ProbeResult probe_model(const std::string& bytes, const ProbeOptions& options) {
  ProbeResult result;
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("probe: pipe failed");
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw std::runtime_error("probe: fork failed");
  }
  if (pid == 0) {
    close(fds[0]);
    child(bytes, options, fds[1]);
  }
  close(fds[1]);
  Header h;
  std::size_t got = 0;
  bool timed_out = false;
  while (got < sizeof(h)) {
    const double left =
        options.wall_seconds -
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p {
      fds[0], POLLIN, 0
    };
    const int ready = poll(&p, 1, static_cast<int>(std::ceil(left * 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      break;
    }
    const ssize_t n = read(fds[0], reinterpret_cast<char*>(&h) + got, sizeof(h) - got);
    if (n <= 0) break;  // the child closed the pipe: exited or died
    got += static_cast<std::size_t>(n);
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%g", options.wall_seconds);
    result.reason = std::string("the probe did not finish within ") + seconds +
                    " s (a forward pass that never ends?)";
    return result;
  }
  if (WIFSIGNALED(status)) {
    result.reason = signal_reason(WTERMSIG(status));
    return result;
  }
  if (got != sizeof(h) || h.magic != kMagic) {
    result.reason = "the probe ended without a valid report (exit status " +
                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
    return result;
  }
  h.message[sizeof(h.message) - 1] = '\0';
  if (h.status == 4) {
    result.reason = std::string("the model ran out of its memory limit (") +
                    std::to_string(options.memory_bytes >> 20) + " MiB): " + h.message;
    return result;
  }
  if (h.status == 1 || h.status == 2) {
    result.reason =
        std::string(h.status == 1 ? "loading" : "the forward pass") + " failed: " + h.message;
    return result;
  }
  if (h.status == 3) {
    result.reason = "forward does not return one tensor";
    return result;
  }
  if (h.rank < 0 || h.rank > kMaxRank || h.load_seconds < 0 || h.forward_seconds < 0) {
    result.reason = "the probe's report is malformed";
    return result;
  }
  for (int i = 0; i < h.rank; ++i) {
    if (h.shape[i] < 0) {
      result.reason = "the probe's report is malformed";
      return result;
    }
    result.output_shape.push_back(h.shape[i]);
  }
  result.finite = h.finite == 1;
  result.load_seconds = h.load_seconds;
  result.forward_seconds = h.forward_seconds;
  if (!result.finite) {
    result.reason = "the output on a zero input is not finite";
    return result;
  }
  result.accepted = true;
  return result;
}

}  // namespace rampart::security
