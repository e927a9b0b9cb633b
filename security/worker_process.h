#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rampart::security {

/// A worker program started by Rampart to run untrusted code (eval::measure_in_sandbox): a
/// fresh process image (fork + exec, so no thread pool, CUDA context or lock of the parent
/// is inherited half-alive), whose only way back is the pipe `from_worker`.
struct WorkerProcess {
  pid_t pid = -1;
  int from_worker = -1;  ///< read end; the worker writes frames to its descriptor 3
};

/// Starts `executable` with `args` (argv[1..]). The worker gets the write end of a new pipe as
/// descriptor 3 and `inputs` as descriptors 4, 5, ... (in order); 0 reads /dev/null, 1 and 2
/// are the parent's (until the worker confines itself). Its environment keeps only the
/// variables the runtime reads (LD_LIBRARY_PATH, OMP_*, OPENBLAS_*, MKL_*, GLIBC_TUNABLES,
/// CUDA_*, locale): no secret of the caller's reaches a model. Throws std::runtime_error when
/// the program cannot be started.
WorkerProcess spawn_worker(const std::string& executable, const std::vector<std::string>& args,
                           const std::vector<int>& inputs);

/// The descriptor a worker writes its frames to, and its first input.
constexpr int kWorkerOutput = 3;
constexpr int kWorkerFirstInput = 4;

/// One message from a worker: a kind and a payload.
struct Frame {
  uint32_t kind = 0;
  std::string payload;
};

/// Writes one frame (a 16-byte header: magic, kind, payload size; then the payload). Returns
/// false when the pipe is gone.
bool write_frame(int fd, uint32_t kind, const std::string& payload);

enum class FrameStatus { kFrame, kTimedOut, kClosed, kMalformed };

/// Reads one frame, waiting at most `timeout_seconds` for all of it. A payload larger than
/// `max_payload` or a bad magic is kMalformed; the pipe closing first is kClosed.
FrameStatus read_frame(int fd, double timeout_seconds, uint64_t max_payload, Frame& out);

/// Reads exactly `size` bytes before `deadline`; false on timeout (`timed_out` set) or when the
/// writer closes the pipe first.
bool read_exactly(int fd, char* out, std::size_t size,
                  std::chrono::steady_clock::time_point deadline, bool& timed_out);

/// Kills the worker first when `kill_it`; else waits at most `grace_seconds` for it to exit
/// and then kills it. Returns its wait status.
int reap_worker(pid_t pid, bool kill_it, double grace_seconds = 5.0);

/// How a confined process ended, in words, for a wait status that is not a clean exit 0
/// (`who`: "the probe", "the evaluation worker"); "" for exit 0.
std::string termination_reason(int wait_status, const std::string& who);

}  // namespace rampart::security
