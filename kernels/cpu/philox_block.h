#pragma once

// One 4-word block of a Philox4x32-10 stream on the CPU (ATen's engine), the words the CUDA
// twins read through curand (kernels/cuda/philox_block.cuh).

#include <ATen/core/PhiloxRNGEngine.h>

#include <cstdint>

namespace rampart::kernels::cpu {

/// Block `block_index` (the subsequence) of the stream keyed by `seed`.
inline void philox_block(uint64_t seed, uint64_t block_index, uint32_t (&block)[4]) {
  at::Philox4_32 engine(seed, block_index, 0);
  for (uint32_t& word : block) word = engine();
}

}  // namespace rampart::kernels::cpu
