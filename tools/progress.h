// Progress of a transfer (`vatic get`, `vatic put`) for the person watching:
// one line on stderr with the bytes so far, the rate and, when the size is
// known, the share done and the time left, redrawn in place ("\r", erase to
// the end of the line) at most ten times a second and erased when the
// transfer ends, so that what follows starts on a clean line.
//
// Only for a person: the caller enables it when stderr is a terminal and
// neither --json nor --quiet was given (progress_wanted); disabled, it writes
// nothing at all. The clock is passed in, so the line is a pure function of
// bytes, total and elapsed time (format_progress).
//
// One Progress per transfer, used by one thread (the command's).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace vatic::cli {

// "1.5 MiB / 4.0 MiB  37%  512.0 KiB/s  ETA 0:05", or without a total
// "1.5 MiB  512.0 KiB/s". The rate is "-- B/s" (and the ETA "--:--") until
// some time has passed; the ETA shows hours ("1:02:03") when needed.
std::string format_progress(std::uint64_t bytes, std::optional<std::uint64_t> total, double elapsed_seconds);

// 1023 -> "1023 B", 1536 -> "1.5 KiB", up to TiB.
std::string format_bytes(double bytes);

// stderr is a terminal, and the command was not asked for --json or --quiet.
bool progress_wanted(bool json, bool quiet);

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  // Draws on `fd` (stderr; a test passes a pipe) when `enabled`.
  Progress(bool enabled, std::optional<std::uint64_t> total, std::function<Clock::time_point()> now, int fd = 2);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();  // finish()

  // `bytes` done so far; redraws if the last draw is 100 ms old. Nothing is
  // drawn in the first 100 ms, so a quick transfer leaves no trace.
  void update(std::uint64_t bytes);
  // Erases the line (once; later calls do nothing).
  void finish();

 private:
  void draw(const std::string& line);

  bool enabled_;
  int fd_;
  bool drawn_ = false;
  std::optional<std::uint64_t> total_;
  std::function<Clock::time_point()> now_;
  Clock::time_point start_, last_draw_;
};

}  // namespace vatic::cli
