#include "core/remove_tree.h"

#include <ftw.h>

#include <cerrno>
#include <cstdio>
#include <mutex>

namespace rampart::core {

namespace {

bool g_failed = false;  // nftw's callback takes no context: remove_tree holds a mutex

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  if (std::remove(path) != 0 && errno != ENOENT) g_failed = true;
  return 0;  // go on: remove as much as possible
}

}  // namespace

bool remove_tree(const std::string& path) noexcept {
  static std::mutex mutex;
  const std::lock_guard<std::mutex> lock(mutex);
  g_failed = false;
  // FTW_DEPTH: a folder after its contents; FTW_PHYS: links themselves, not their targets.
  if (nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) return errno == ENOENT;
  return !g_failed;
}

}  // namespace rampart::core
