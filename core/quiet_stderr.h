#pragma once

namespace rampart::core {

/// Sends file descriptor 2 to /dev/null for its lifetime. C libraries under OpenCV (libpng,
/// libjpeg) print their own warnings to stderr when they meet a corrupt file; Rampart reports
/// such a file as one clear error of its own, so their chatter is silenced around the call.
/// Not for concurrent use with other stderr writers.
///
/// Example:
///   { core::QuietStderr quiet; img = cv::imread(path); }
class QuietStderr {
 public:
  QuietStderr();
  ~QuietStderr();
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_ = -1;
};

}  // namespace rampart::core
