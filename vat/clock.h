// Clock: where a vat reads the time, both kinds of it. `now()` is monotonic
// time for deadlines, timers and ages; `unix_ms()` is wall-clock time for what
// must name a calendar moment (token expiry, RFC 3339 stamps in logs). Real
// vats use SteadyClock; simulations and timer tests use ManualClock, whose time
// moves only when the test advances it, so several vats can run in one thread
// deterministically (LevelDB's Env idea).
//
// This file and clock.cpp are the only places in vat/, captp/, caps/ and
// sturdyrefs/ that read the system's clocks; scripts/check-clock enforces it.
// Everything else asks a Clock (`vat.clock()`, or one passed down from main()).
//
// Threads: any thread may read a clock; ManualClock's setters too.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace vatic {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
  // Milliseconds since the unix epoch. Not monotonic: the system's clock may
  // be set back, so deadlines use now(), never this.
  virtual std::int64_t unix_ms() const noexcept = 0;
  std::int64_t unix_seconds() const noexcept { return unix_ms() / 1000; }
  // A manual clock never wakes a sleeping loop: the driver advances it and runs
  // the vats, which then fire whatever timers became due.
  virtual bool manual() const noexcept { return false; }
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const noexcept override;
  std::int64_t unix_ms() const noexcept override;
};

class ManualClock final : public Clock {
 public:
  // 2026-01-01T00:00:00Z: a fixed, plausible wall time, so runs repeat exactly.
  static constexpr std::int64_t kDefaultUnixMs = 1'767'225'600'000;

  TimePoint now() const noexcept override { return TimePoint(Duration(ns_.load(std::memory_order_acquire))); }
  // The wall time moves with advance(), and set_unix_ms() moves it alone (as
  // an operator setting the system clock would).
  std::int64_t unix_ms() const noexcept override {
    return unix0_ms_.load(std::memory_order_acquire) + ns_.load(std::memory_order_acquire) / 1'000'000;
  }
  bool manual() const noexcept override { return true; }
  void advance(Duration d) noexcept { ns_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void set_unix_ms(std::int64_t ms) noexcept {
    unix0_ms_.store(ms - ns_.load(std::memory_order_acquire) / 1'000'000, std::memory_order_release);
  }

 private:
  std::atomic<Duration::rep> ns_{0};
  std::atomic<std::int64_t> unix0_ms_{kDefaultUnixMs};
};

// The process's steady clock, for vats that are given no other.
Clock& steady_clock() noexcept;

}  // namespace vatic
