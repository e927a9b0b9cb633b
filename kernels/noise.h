#pragma once

// Turning Philox4x32-10 words into floats, shared by the CPU twin (words from ATen's
// at::Philox4_32) and the CUDA twin (words from curand's Philox state): both engines are the
// standard Philox4x32-10 of Salmon et al. (2011), keyed by the 64-bit seed, with the
// subsequence in the counter's upper half, so element e of a random start reads word e % 4 of
// block e / 4 on either device. Plain C++ so nvcc and the host compiler both take it.

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace rampart::kernels::noise {

/// The subsequence (counter block) of the per-sample radius draws of an L2 start, far above
/// any element block.
constexpr uint64_t kRadiusSubsequence = uint64_t{1} << 62;

/// The top 24 bits as a float in [0, 1): exact, so every device gets the same value.
RAMPART_HOST_DEVICE inline float uniform(uint32_t word) {
  return static_cast<float>(word >> 8) * 5.9604644775390625e-8f;  // 2^-24
}

/// Box-Muller on a pair of words: the cosine branch for even elements, the sine branch for odd
/// ones. u1 lies in (0, 1], so the log is finite.
RAMPART_HOST_DEVICE inline float normal(uint32_t first, uint32_t second, bool odd) {
  const float u1 = static_cast<float>((first >> 8) + 1u) * 5.9604644775390625e-8f;
  const float angle = 6.2831853071795865f * uniform(second);
  const float radius = sqrtf(-2.0f * logf(u1));
  return radius * (odd ? sinf(angle) : cosf(angle));
}

/// Both normals of a pair of words: out[0] the cosine branch, out[1] the sine branch (what
/// normal() returns for the even and the odd element).
inline void normal_pair(uint32_t first, uint32_t second, float* out) {
  const float u1 = static_cast<float>((first >> 8) + 1u) * 5.9604644775390625e-8f;
  const float angle = 6.2831853071795865f * uniform(second);
  const float radius = sqrtf(-2.0f * logf(u1));
  out[0] = radius * cosf(angle);
  out[1] = radius * sinf(angle);
}

/// Word `k` (0..3) of a 4-word block chooses the pair (k & 2, (k & 2) + 1) for normals.
RAMPART_HOST_DEVICE inline float normal_of_block(const uint32_t (&block)[4], int k) {
  const int pair = k & 2;
  return normal(block[pair], block[pair + 1], (k & 1) != 0);
}

}  // namespace rampart::kernels::noise
