#include <algorithm>

#include "kernels/argmax_row.h"
#include "kernels/cuda/step_kernels.cuh"

namespace rampart::kernels::cuda {
namespace {

__global__ void update_fooled_kernel(bool* __restrict__ fooled, const float* __restrict__ logits,
                                     const int64_t* __restrict__ labels, int64_t samples,
                                     int64_t classes, bool targeted) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= samples) return;
  const bool hit = argmax_row(logits + i * classes, classes) == labels[i];
  fooled[i] = fooled[i] || (targeted ? hit : !hit);
}

}  // namespace

cudaError_t launch_update_fooled(bool* fooled, const float* logits, const int64_t* labels,
                                 int64_t samples, int64_t classes, bool targeted,
                                 cudaStream_t stream) {
  if (samples == 0) return cudaSuccess;
  constexpr int kThreads = 128;
  const int64_t blocks = (samples + kThreads - 1) / kThreads;
  update_fooled_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      fooled, logits, labels, samples, classes, targeted);
  return cudaGetLastError();
}

}  // namespace rampart::kernels::cuda
