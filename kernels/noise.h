#pragma once

// Turning Philox4x32-10 words into floats, shared by the CPU twin (words from ATen's
// at::Philox4_32) and the CUDA twin (words from curand's Philox state): both engines are the
// standard Philox4x32-10 of Salmon et al. (2011), keyed by the 64-bit seed, with the
// subsequence in the counter's upper half. Every point of a batch has its own stream, keyed by
// point_key(key, the point's id), so element e of a point's random start reads word e % 4 of
// block e / 4 of that stream on either device. Plain C++ so nvcc and the host compiler both take
// it.

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace rampart::kernels::noise {

/// splitmix64's finaliser (Steele et al. 2014): a bijection of 64-bit words whose outputs for
/// neighbouring inputs look unrelated.
RAMPART_HOST_DEVICE inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// The Philox key of one point's stream: the start's key and the point's id (its index in the
/// whole data set) mixed, so different points draw unrelated streams and one point draws the
/// same stream in whatever batch it is.
RAMPART_HOST_DEVICE inline uint64_t point_key(uint64_t key, int64_t point) {
  return mix64(key + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(point) + 1));
}

/// The subsequence (counter block) of a point's radius draw in an L2 start, far above any
/// element block.
constexpr uint64_t kRadiusSubsequence = uint64_t{1} << 62;

/// Square attack's draws in a point's stream (kernels/square_step.h): iteration t's window from
/// block t; its channel signs, channels 128g to 128g + 127, from block t + (g + 1) * kSignGroup;
/// the start's stripe signs, (channel, column) pairs 128g to 128g + 127, from block
/// kStripeSubsequence + g.
constexpr uint64_t kSignGroup = uint64_t{1} << 40;
constexpr uint64_t kStripeSubsequence = uint64_t{1} << 61;

/// A word mapped to an integer uniform in [0, n) (Lemire's multiply-shift; n < 2^32).
RAMPART_HOST_DEVICE inline int64_t below(uint32_t word, int64_t n) {
  return static_cast<int64_t>((static_cast<uint64_t>(word) * static_cast<uint64_t>(n)) >> 32);
}

/// Bit k (0..127) of a 4-word block as a sign: +1 or -1.
RAMPART_HOST_DEVICE inline float sign_bit(const uint32_t (&block)[4], int64_t k) {
  return ((block[(k >> 5) & 3] >> (k & 31)) & 1u) != 0 ? 1.0f : -1.0f;
}

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
