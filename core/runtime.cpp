#include "core/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <sched.h>

#include <algorithm>
#include <thread>

#include "core/error.h"

namespace rampart::core {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int set_threads(int64_t threads) {
  if (threads < 0)
    throw ConfigError("threads: must be >= 0 (0 = all cores), got " + std::to_string(threads));
  int n = static_cast<int>(threads);
  if (n == 0) n = available_cores();
  at::set_num_threads(n);
  return at::get_num_threads();
}

void seed_everything(uint64_t seed) { at::manual_seed(seed); }

std::string resolve_device(const std::string& requested, const std::string& key) {
  const bool have_cuda = at::hasCUDA();
  if (requested == "cpu") return "cpu";
  if (requested == "cuda") {
    if (!have_cuda) {
      throw ConfigError(key + ": 'cuda' requested but no CUDA device is available to this build");
    }
    return "cuda";
  }
  if (requested == "auto") return have_cuda ? "cuda" : "cpu";
  throw ConfigError(key + ": unknown device '" + requested + "' (expected cpu, cuda or auto)");
}

}  // namespace rampart::core
