#include "security/sandbox_probe.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <sstream>

#include "core/shape_text.h"
#include "security/graph_operators.h"
#include "security/model_behaviour.h"
#include "security/operator_allowlist.h"
#include "security/process_sandbox.h"
#include "security/worker_process.h"

namespace rampart::security {
namespace {

constexpr uint32_t kMagic = 0x52504d51;  // "QMPR": protocol 2, with the operator list
constexpr int kMaxRank = 8;
constexpr uint32_t kMaxOperatorBytes = 1 << 16;
constexpr int kInternalExit = 70;  // the child failed outside every handler

enum Status : int32_t {
  kOk = 0,
  kLoadFailed = 1,
  kForwardFailed = 2,
  kMemory = 4,
  kBehaviour = 5,
  kOperatorRefused = 6,
  kNotRun = 7,  // loaded and judged; no input shape was given or could be inferred
  kSandboxFailed = 8,
};

// The child's answer: fixed size, every field checked by the parent; `operator_bytes` bytes of
// '\n'-separated node kinds follow it.
struct Header {
  uint32_t magic = kMagic;
  int32_t status = kOk;
  int32_t rank = 0, input_rank = 0;
  int32_t finite = 0, input_inferred = 0;
  uint32_t operator_bytes = 0;
  int64_t shape[kMaxRank] = {};
  int64_t input_shape[kMaxRank] = {};
  double load_seconds = 0, forward_seconds = 0;
  char message[512] = {};
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

void set_message(Header& h, const std::string& text) {
  std::snprintf(h.message, sizeof(h.message), "%s", text.c_str());
}

[[noreturn]] void answer(int fd, Header& h, const std::string& operators) {
  h.operator_bytes = static_cast<uint32_t>(std::min<std::size_t>(operators.size(), kMaxOperatorBytes));
  write_all(fd, &h, sizeof(h));
  write_all(fd, operators.data(), h.operator_bytes);
  _exit(0);
}

[[noreturn]] void run_child(const std::string& bytes, const ProbeOptions& o, int fd) {
  Header h;
  // The pipe must not be 0, 1 or 2 (a parent started with those closed hands them out): those
  // go to /dev/null, and a model's prints must never reach the pipe.
  if (fd <= 2) {
    const int moved = fcntl(fd, F_DUPFD, 3);
    if (moved < 0) _exit(kInternalExit);
    close(fd);
    fd = moved;
  }
  // Before confinement, while /proc, /sys and /dev can still be read: the parent's thread pool
  // does not survive fork, and making the new one initialises cpuinfo (/proc/cpuinfo).
  at::set_num_threads(1);
  // The default generator seeds itself from /dev/urandom the first time anything asks for it.
  at::detail::getDefaultCPUGenerator();
  SandboxLimits limits{o.memory_bytes, o.cpu_seconds, 64, {fd}};
  if (!confine_process(limits)) {
    h.status = kSandboxFailed;
    set_message(h, "the sandbox (descriptors, limits, Landlock, seccomp) could not be set up");
    answer(fd, h, "");
  }
  std::string operators;
  bool loaded = false;
  try {
    const auto t0 = std::chrono::steady_clock::now();
    std::istringstream stream(bytes);
    torch::jit::Module module = torch::jit::load(stream, c10::Device(c10::kCPU));
    module.eval();
    loaded = true;
    const auto t1 = std::chrono::steady_clock::now();
    h.load_seconds = std::chrono::duration<double>(t1 - t0).count();
    for (const std::string& kind : graph_operators(module)) {
      operators += kind + "\n";
      const std::string why = judge_operator(kind, o.denied_operators);
      if (!why.empty() && h.status == kOk) {
        h.status = kOperatorRefused;
        set_message(h, kind + ": " + why);
      }
    }
    if (h.status != kOk) answer(fd, h, operators);  // a refused model runs nothing

    std::vector<std::vector<int64_t>> shapes{o.input_shape};
    if (o.input_shape.empty()) {
      shapes = candidate_input_shapes(module);
      h.input_inferred = 1;
    }
    std::string problem = "no input shape was given and none could be inferred";
    std::string tried;  // the inferred shapes that did not fit, and why
    for (const auto& shape : shapes) {
      if (shape.empty() || static_cast<int>(shape.size()) > kMaxRank) continue;
      std::vector<int64_t> out;
      try {
        problem = check_behaviour(module, shape, o.range_low, o.range_high, out);
      } catch (const std::bad_alloc&) {
        throw;
      } catch (const std::exception& e) {
        const std::string cause = exception_cause(e);
        if (is_out_of_memory(cause)) throw;
        problem = "the forward pass failed: " + cause;
      }
      if (h.input_inferred && !problem.empty()) {  // a guess that did not fit
        tried += (tried.empty() ? "" : "; ") + core::shape_text(shape) + ": " + problem.substr(0, 120);
        continue;
      }
      h.input_rank = static_cast<int32_t>(shape.size());
      for (std::size_t i = 0; i < shape.size(); ++i) h.input_shape[i] = shape[i];
      h.rank = static_cast<int32_t>(std::min<std::size_t>(out.size(), kMaxRank));
      for (int i = 0; i < h.rank; ++i) h.shape[i] = out[static_cast<std::size_t>(i)];
      break;
    }
    h.forward_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (h.input_rank == 0) {
      h.status = h.input_inferred ? kNotRun : kBehaviour;
      set_message(h, tried.empty() ? problem : "tried " + tried);
    } else if (!problem.empty()) {
      h.status = problem.rfind("the forward pass failed", 0) == 0 ? kForwardFailed : kBehaviour;
      set_message(h, problem);
    } else {
      h.finite = 1;
    }
  } catch (const std::exception& e) {
    const std::string cause = exception_cause(e);
    const bool memory = is_out_of_memory(cause);
    h.status = memory ? kMemory : loaded ? kForwardFailed : kLoadFailed;
    set_message(h, cause);
  } catch (...) {
    h.status = kMemory;  // std::bad_alloc and the like from outside libtorch
  }
  answer(fd, h, operators);
}

// The forked child never returns into the parent's code, whatever happens.
[[noreturn]] void child(const std::string& bytes, const ProbeOptions& o, int fd) {
  try {
    run_child(bytes, o, fd);
  } catch (...) {
  }
  _exit(kInternalExit);
}

}  // namespace

std::string exception_cause(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string what = c10_error ? c10_error->what_without_backtrace() : e.what();
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  const std::size_t at = what.rfind('\n');
  return at == std::string::npos ? what : what.substr(at + 1);
}

bool is_out_of_memory(const std::string& cause) {
  return cause.find("can't allocate memory") != std::string::npos ||
         cause.find("out of memory") != std::string::npos ||
         cause.find("bad_alloc") != std::string::npos;
}

std::string escape_untrusted(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

ProbeResult probe_model(const std::string& bytes, const ProbeOptions& options) {
  ProbeResult result;
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("probe: pipe failed");
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(options.wall_seconds));
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
  bool timed_out = false;
  bool complete = read_exactly(fds[0], reinterpret_cast<char*>(&h), sizeof(h), deadline, timed_out);
  std::string operators;
  if (complete && h.magic == kMagic && h.operator_bytes <= kMaxOperatorBytes) {
    operators.resize(h.operator_bytes);
    complete = read_exactly(fds[0], operators.data(), operators.size(), deadline, timed_out);
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
    result.reason = termination_reason(status, "the probe");
    return result;
  }
  const auto malformed = [&] {
    result.reason = "the probe's report is malformed";
    return result;
  };
  if (!complete || h.magic != kMagic) {
    result.reason = "the probe ended without a valid report (exit status " +
                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
    return result;
  }
  h.message[sizeof(h.message) - 1] = '\0';
  const std::string message = escape_untrusted(h.message);
  if (h.rank < 0 || h.rank > kMaxRank || h.input_rank < 0 || h.input_rank > kMaxRank ||
      !(std::isfinite(h.load_seconds) && h.load_seconds >= 0) ||
      !(std::isfinite(h.forward_seconds) && h.forward_seconds >= 0)) {
    return malformed();
  }
  if (!parse_operator_list(operators, result.operators)) return malformed();
  result.load_seconds = h.load_seconds;
  result.forward_seconds = h.forward_seconds;
  // The parent judges the operator list itself: the child's own verdict is a courtesy. The
  // list is the child's, though: a child that broke out of libtorch's memory safety could leave
  // an operator out (docs/security.md, "What the checks do not stop").
  for (const std::string& kind : result.operators) {
    const std::string why = judge_operator(kind, options.denied_operators);
    if (!why.empty()) {
      result.reason = "the model's graph calls " + kind + ", which is refused: " + why;
      return result;
    }
  }
  switch (h.status) {
    case kOk:
    case kNotRun:
      break;
    case kMemory:
      result.reason = std::string("the model ran out of its memory limit (") +
                      std::to_string(options.memory_bytes >> 20) + " MiB): " + message;
      return result;
    case kLoadFailed:
      result.reason = "loading failed: " + message;
      return result;
    case kForwardFailed:
      result.reason = message.rfind("the forward pass failed", 0) == 0
                          ? message
                          : "the forward pass failed: " + message;
      return result;
    case kBehaviour:
      result.reason = "the behavioural checks failed: " + message;
      return result;
    case kOperatorRefused:  // the child refused what the parent's list accepts: trust neither
    case kSandboxFailed:
    default:
      result.reason = message.empty() ? "the probe failed" : message;
      return result;
  }
  if (result.operators.empty()) return malformed();  // every module has a graph
  result.accepted = true;
  if (h.status == kNotRun) {
    result.not_run_reason = message;
    return result;
  }
  for (int i = 0; i < h.input_rank; ++i) {
    if (h.input_shape[i] <= 0) return malformed();
    result.input_shape.push_back(h.input_shape[i]);
  }
  for (int i = 0; i < h.rank; ++i) {
    if (h.shape[i] < 0) return malformed();
    result.output_shape.push_back(h.shape[i]);
  }
  result.input_inferred = h.input_inferred == 1;
  result.finite = h.finite == 1;
  result.ran = true;
  return result;
}

}  // namespace rampart::security
