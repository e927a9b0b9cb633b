#pragma once

// Block-wide sum for kernels that run one block per sample (blockDim.x a multiple of 32, at
// most 1024). Every thread gets the total; `shared` holds blockDim.x / 32 floats.

namespace rampart::kernels::cuda {

__device__ inline float block_sum(float value, float* shared) {
  for (int offset = 16; offset > 0; offset /= 2) {
    value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < static_cast<int>(blockDim.x / 32) ? shared[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) {
      value += __shfl_down_sync(0xffffffffu, value, offset);
    }
    if (lane == 0) shared[0] = value;
  }
  __syncthreads();
  const float total = shared[0];
  __syncthreads();  // shared may be reused by the next call
  return total;
}

}  // namespace rampart::kernels::cuda
