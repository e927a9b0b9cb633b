#pragma once

// One 4-word block of a Philox4x32-10 stream on the device: the first four words of curand's
// Philox state initialised at that subsequence (the words the CPU twins read through ATen's
// engine, kernels/cpu/philox_block.h).

#include <curand_kernel.h>

#include <cstdint>

namespace rampart::kernels::cuda {

__device__ inline void philox_block(uint64_t seed, uint64_t index, uint32_t (&block)[4]) {
  curandStatePhilox4_32_10_t state;
  curand_init(seed, index, 0, &state);
  const uint4 words = curand4(&state);
  block[0] = words.x;
  block[1] = words.y;
  block[2] = words.z;
  block[3] = words.w;
}

}  // namespace rampart::kernels::cuda
