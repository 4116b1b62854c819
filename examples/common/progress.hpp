#pragma once
// A one-line training progress display: epoch, batch i/n, running loss, samples/s, ETA.
// On a terminal it redraws in place with \r (at most every 0.1 s); into a file or a pipe
// (CI logs) it prints a line at every tenth of the epoch instead, so logs stay short.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

namespace examples {

/// "0:42", "1:05" or "1:02:05"; with `fine`, under a minute shows tenths: "4.2s".
inline std::string format_duration(double seconds, bool fine = false) {
  if (!(seconds >= 0) || seconds > 360000) return "--:--";  // NaN or absurd: nothing to promise
  char buf[32];
  if (fine && seconds < 59.95) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    return buf;
  }
  const auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

struct ProgressOptions {
  std::ostream* out = &std::cout;
  std::optional<bool> tty{};        // default: redraw only when out is std::cout on a terminal
  double redraw_seconds = 0.1;      // terminal redraws at most this often
  std::size_t width = 24;           // characters of the bar itself
};

class ProgressBar {
 public:
  using Options = ProgressOptions;

  /// `label` names the pass ("epoch 3/10"); total is its number of batches.
  ProgressBar(std::string label, std::size_t total, Options options = {})
      : label_(std::move(label)), total_(total), options_(options), start_(Clock::now()) {
    tty_ = options_.tty ? *options_.tty : (options_.out == &std::cout && ::isatty(STDOUT_FILENO));
  }

  /// After `done` batches (1..total) with the mean loss so far and `samples` examples seen.
  void update(std::size_t done, double loss, std::size_t samples) {
    done_ = std::min(done, total_);
    loss_ = loss;
    samples_ = samples;
    const auto now = Clock::now();
    if (tty_) {
      const bool due = !drawn_ || seconds(last_draw_, now) >= options_.redraw_seconds || done_ == total_;
      if (!due) return;
      *options_.out << '\r' << line(now, false) << "\x1b[K" << std::flush;  // \x1b[K: clear the rest
      drawn_ = true;
      last_draw_ = now;
    } else {
      // Tenths 1..9 only; the line for 100% is finish()'s.
      const std::size_t tenth = total_ ? done_ * 10 / total_ : 10;
      if (tenth > printed_tenth_ && tenth < 10) {
        printed_tenth_ = tenth;
        *options_.out << line(now, false) << '\n' << std::flush;
      }
    }
  }

  /// The final line, with the time the pass took and `suffix` ("test loss 0.41 acc 85.3%").
  void finish(const std::string& suffix = "") {
    std::string text = line(Clock::now(), true);
    if (!suffix.empty()) text += "  " + suffix;
    if (tty_) *options_.out << '\r' << text << "\x1b[K\n" << std::flush;
    else *options_.out << text << '\n' << std::flush;
  }

  bool is_tty() const { return tty_; }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }

  std::string line(Clock::time_point now, bool final) const {
    const double elapsed = seconds(start_, now);
    const std::size_t filled = total_ ? done_ * options_.width / total_ : options_.width;
    std::string bar(options_.width, ' ');
    std::fill_n(bar.begin(), filled, '=');
    if (filled < options_.width && done_ > 0) bar[filled] = '>';
    const int digits = static_cast<int>(std::to_string(total_).size());
    char buf[512];
    std::snprintf(buf, sizeof buf, "%s [%s] %*zu/%zu  loss %.4f  %6.0f samples/s  %s %s", label_.c_str(),
                  bar.c_str(), digits, done_, total_, loss_, elapsed > 0 ? samples_ / elapsed : 0.0,
                  final ? "took" : "ETA",
                  (final ? format_duration(elapsed, true) : format_duration(done_ ? elapsed / done_ * (total_ - done_) : -1)).c_str());
    return buf;
  }

  std::string label_;
  std::size_t total_;
  Options options_;
  bool tty_ = false;
  Clock::time_point start_, last_draw_;
  bool drawn_ = false;
  std::size_t printed_tenth_ = 0;
  std::size_t done_ = 0, samples_ = 0;
  double loss_ = 0;
};

}  // namespace examples
