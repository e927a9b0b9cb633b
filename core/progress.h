#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace rampart::core {

/// A progress display on stderr: a redrawn bar with throughput, ETA and caller-supplied
/// statistics when stderr is a terminal, plain lines (at most one every few seconds, plus the
/// final one) when it is not, so CI logs stay readable.
///
/// Example:
///   core::Progress bar("epoch 1/5", num_batches, "img");
///   for (...) { ...; bar.update(batch_size, [&] { return "loss 0.41"; }); }
///   bar.finish("loss 0.38 acc 87.0%");
class Progress {
 public:
  Progress(std::string label, int64_t total_steps, std::string unit);
  /// One step done, covering `items` items (images). `stats` (shown after the bar) is called
  /// only when a line is drawn, so callers can defer host syncs (`.item()`) to those moments.
  void update(int64_t items, const std::function<std::string()>& stats);
  void finish(const std::string& stats);

 private:
  void draw(const std::string& stats, bool final_line);

  std::string label_;
  int64_t total_;
  std::string unit_;
  int64_t step_ = 0;
  int64_t items_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace rampart::core
