#pragma once

#include <cstdint>
#include <string>

namespace rampart::core {

/// Sets libtorch's intra-op thread count. `threads == 0` means all cores (Debian's libtorch
/// starts with one thread). Returns the count in effect.
///
/// Example:
///   core::set_threads(0);  // every core
int set_threads(int64_t threads);

/// The cores this process may run on (its CPU affinity: `taskset -c 0,1` on a 64-core host is
/// 2), at least 1; what `threads: 0` means.
int available_cores();

/// Seeds libtorch's global generator (used for weight initialisation).
void seed_everything(uint64_t seed);

/// Resolves a `device:` config value (cpu | cuda | auto) against what this build and machine
/// have; "cuda" without a GPU is a ConfigError naming `key`.
std::string resolve_device(const std::string& requested, const std::string& key);

}  // namespace rampart::core
