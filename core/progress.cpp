#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace rampart::core {
namespace {

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  const int s = static_cast<int>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", s / 3600, (s / 60) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

Progress::Progress(std::string label, int64_t total_steps, std::string unit)
    : label_(std::move(label)),
      total_(total_steps),
      unit_(std::move(unit)),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {
  if (!tty_)
    std::fprintf(stderr, "%s: started, %lld steps\n", label_.c_str(),
                 static_cast<long long>(total_));
}

void Progress::update(int64_t items, const std::function<std::string()>& stats) {
  ++step_;
  items_ += items;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if ((tty_ && since >= 0.1) || (!tty_ && since >= 5.0)) draw(stats(), false);
}

void Progress::finish(const std::string& stats) { draw(stats, true); }

void Progress::draw(const std::string& stats, bool final_line) {
  const auto now = std::chrono::steady_clock::now();
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(items_) / elapsed : 0.0;
  const double frac = total_ > 0 ? static_cast<double>(step_) / static_cast<double>(total_) : 1.0;
  const double eta =
      step_ > 0 ? elapsed / static_cast<double>(step_) * static_cast<double>(total_ - step_) : -1.0;
  const std::string timing =
      final_line ? "in " + format_duration(elapsed) : "ETA " + format_duration(eta);
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %.0f %s/s %s  %s%s", label_.c_str(), bar.c_str(),
                 frac * 100, rate, unit_.c_str(), timing.c_str(), stats.c_str(),
                 final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s: %lld/%lld steps (%.0f%%) %.0f %s/s %s  %s\n", label_.c_str(),
                 static_cast<long long>(step_), static_cast<long long>(total_), frac * 100, rate,
                 unit_.c_str(), timing.c_str(), stats.c_str());
  }
  std::fflush(stderr);
}

}  // namespace rampart::core
