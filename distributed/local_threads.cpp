#include "distributed/local_threads.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "core/runtime.h"

namespace rampart::distributed {

namespace {

// The ranks on this machine: torchrun's LOCAL_WORLD_SIZE, else WORLD_SIZE.
int64_t local_world_size(int64_t world_size) {
  const char* value = std::getenv("LOCAL_WORLD_SIZE");
  if (value == nullptr || *value == '\0') return world_size;
  const long long local = std::strtoll(value, nullptr, 10);
  return local > 0 ? local : world_size;
}

}  // namespace

int64_t threads_per_local_rank(int64_t requested, int64_t world_size) {
  if (requested != 0) return requested;
  const int64_t cores = core::available_cores();
  return std::max<int64_t>(1, cores / std::max<int64_t>(1, local_world_size(world_size)));
}

}  // namespace rampart::distributed
