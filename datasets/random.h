#pragma once

#include <cstdint>

namespace rampart::datasets::detail {

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): a tiny 64-bit generator whose output is the same on every platform and
/// compiler, unlike the standard library's distributions. Internal to this module.
///
/// Example:
///   SplitMix64 rng(seed);
///   uint64_t j = rng.below(10);  // unbiased, in [0, 10)
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  /// The next 64 random bits.
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  /// An unbiased integer in [0, bound) for bound > 0, by rejection: draws below
  /// 2^64 mod bound are discarded so every residue is equally likely.
  uint64_t below(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;  // == 2^64 mod bound
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % bound;
    }
  }

  /// A double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace rampart::datasets::detail
