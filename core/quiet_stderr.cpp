#include "core/quiet_stderr.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace rampart::core {

QuietStderr::QuietStderr() {
  std::fflush(stderr);
  saved_ = ::dup(STDERR_FILENO);
  const int null_fd = ::open("/dev/null", O_WRONLY);
  if (saved_ < 0 || null_fd < 0) {
    if (null_fd >= 0) ::close(null_fd);
    return;
  }
  ::dup2(null_fd, STDERR_FILENO);
  ::close(null_fd);
}

QuietStderr::~QuietStderr() {
  if (saved_ < 0) return;
  std::fflush(stderr);
  ::dup2(saved_, STDERR_FILENO);
  ::close(saved_);
}

}  // namespace rampart::core
