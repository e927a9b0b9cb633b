#include "attacks/pgd_cuda_graph.h"

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <exception>
#include <string>

#include "attacks/pgd_step.h"

namespace rampart::attacks::detail {
namespace {

// Eager steps before capture: cuBLAS/cuDNN handles, autograd's device threads and the
// allocator's pools exist before the first captured kernel.
constexpr int64_t kWarmupSteps = 2;

void log_fallback_once(const std::string& reason) {
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    spdlog::warn("pgd: CUDA graph capture failed, running eager steps instead: {}", reason);
  }
}

// Ends a capture that an exception interrupted, so the stream and the allocator leave capture
// mode; its own error (the capture was invalidated) is the expected outcome and dropped.
void abandon_capture(at::cuda::CUDAGraph& graph, cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &status) == cudaSuccess &&
      status != cudaStreamCaptureStatusNone) {
    try {
      graph.capture_end();
    } catch (const std::exception&) {
    }
  }
  (void)cudaGetLastError();
}

}  // namespace

int64_t pgd_steps_cuda_graph(models::Model& model, at::Tensor& x_adv, const at::Tensor& x,
                             const at::Tensor& labels, at::Tensor& frozen, const PGDOptions& o,
                             int64_t every) {
  const int64_t steps = o.steps();
  if (steps <= kWarmupSteps) return 0;  // nothing left to replay
  TORCH_CHECK(x_adv.is_contiguous() && x.is_contiguous() && labels.is_contiguous(),
              "pgd: the CUDA graph buffers must be contiguous");
  const c10::cuda::CUDAGuard device(x.device());
  const c10::cuda::CUDAStream capture_stream = c10::cuda::getStreamFromPool();
  const c10::cuda::CUDAStream caller_stream = c10::cuda::getCurrentCUDAStream();
  // The capture stream starts after the caller's pending work, and the caller's later work
  // waits for it (the events are device-side: no host sync).
  at::cuda::CUDAEvent ready;
  ready.record(caller_stream);
  ready.block(capture_stream);

  int64_t done = 0;
  {
    const c10::cuda::CUDAStreamGuard on_capture_stream(capture_stream);
    for (; done < kWarmupSteps; ++done) pgd_step_in_place(model, x_adv, x, labels, frozen, o);
    at::cuda::CUDAGraph graph;
    try {
      graph.capture_begin();
      pgd_step_in_place(model, x_adv, x, labels, frozen, o);
      graph.capture_end();
    } catch (const std::exception& error) {
      abandon_capture(graph, capture_stream.stream());
      log_fallback_once(error.what());
      at::cuda::CUDAEvent finished;
      finished.record(capture_stream);
      finished.block(caller_stream);
      return done;
    }
    // Capture recorded the step without running it: every replay is one real step.
    for (; done < steps; ++done) {
      graph.replay();
      if (o.early_stop() && (done + 1) % every == 0 && frozen.all().item<bool>()) {
        done = steps;  // every sample is fooled: the remaining steps would change nothing
        break;
      }
    }
  }
  at::cuda::CUDAEvent finished;
  finished.record(capture_stream);
  finished.block(caller_stream);
  return done;
}

}  // namespace rampart::attacks::detail
