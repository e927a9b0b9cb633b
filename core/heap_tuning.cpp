#include "core/heap_tuning.h"

#include <cstdlib>
#include <cstring>
#include <initializer_list>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rampart::core {

namespace {

bool user_chose_heap_settings() {
  const char* switch_value = std::getenv("RAMPART_HEAP_TUNING");
  if (switch_value != nullptr && (std::strcmp(switch_value, "0") == 0 ||
                                  std::strcmp(switch_value, "off") == 0)) {
    return true;
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr) {
    for (const char* name : {"glibc.malloc.mmap_max", "glibc.malloc.mmap_threshold",
                             "glibc.malloc.trim_threshold"}) {
      if (std::strstr(tunables, name) != nullptr) return true;
    }
  }
  for (const char* name : {"MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

}  // namespace

bool tune_heap_for_tensors() {
#if defined(__GLIBC__)
  if (user_chose_heap_settings()) return false;
  constexpr int kKeptAtTop = 1 << 30;
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, kKeptAtTop) == 1;
#else
  return false;
#endif
}

}  // namespace rampart::core
