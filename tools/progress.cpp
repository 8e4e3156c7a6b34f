#include "tools/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace vatic::cli {
namespace {

constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
// Before this much time has passed, a rate would be noise.
constexpr double kMinElapsedForRate = 0.05;

std::string format_eta(double seconds) {
  auto s = static_cast<std::uint64_t>(std::ceil(seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

void write_all(int fd, const std::string& s) {
  // Best effort: a terminal that cannot take the progress line must not fail
  // the transfer.
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", static_cast<std::uint64_t>(bytes));
  int unit = -1;
  while (bytes >= 1024 && unit < 3) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

std::string format_progress(std::uint64_t bytes, std::optional<std::uint64_t> total, double elapsed_seconds) {
  const bool timed = elapsed_seconds >= kMinElapsedForRate;
  const double rate = timed ? static_cast<double>(bytes) / elapsed_seconds : 0;
  std::string rate_text = timed ? format_bytes(rate) + "/s" : std::string("-- B/s");
  if (!total) return fmt::format("{}  {}", format_bytes(static_cast<double>(bytes)), rate_text);
  const std::uint64_t t = *total;
  const std::uint64_t done = std::min(bytes, t);
  const int percent = t == 0 ? 100 : static_cast<int>(static_cast<double>(done) * 100.0 / static_cast<double>(t));
  std::string eta = timed && rate > 0 ? format_eta(static_cast<double>(t - done) / rate) : std::string("--:--");
  return fmt::format("{} / {}  {}%  {}  ETA {}", format_bytes(static_cast<double>(bytes)),
                     format_bytes(static_cast<double>(t)), percent, rate_text, eta);
}

bool progress_wanted(bool json, bool quiet) { return !json && !quiet && ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(bool enabled, std::optional<std::uint64_t> total, std::function<Clock::time_point()> now, int fd)
    : enabled_(enabled), fd_(fd), total_(total), now_(std::move(now)) {
  if (enabled_) start_ = last_draw_ = now_();
}

Progress::~Progress() { finish(); }

void Progress::update(std::uint64_t bytes) {
  if (!enabled_) return;
  auto now = now_();
  if (drawn_ && now - last_draw_ < kRedrawEvery) return;
  if (!drawn_ && now - start_ < kRedrawEvery) return;  // a quick transfer draws nothing
  last_draw_ = now;
  draw(format_progress(bytes, total_, std::chrono::duration<double>(now - start_).count()));
}

void Progress::finish() {
  if (!enabled_) return;
  enabled_ = false;
  if (drawn_) write_all(fd_, "\r\x1b[K");
}

void Progress::draw(const std::string& line) {
  drawn_ = true;
  write_all(fd_, "\r" + line + "\x1b[K");
}

}  // namespace vatic::cli
