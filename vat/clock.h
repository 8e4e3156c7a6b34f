// Clock: where a vat reads the time. Real vats use SteadyClock; simulations and
// timer tests use ManualClock, whose time moves only when the test advances it,
// so several vats can run in one thread deterministically.
#pragma once

#include <atomic>
#include <chrono>

namespace vatic {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
  // A manual clock never wakes a sleeping loop: the driver advances it and runs
  // the vats, which then fire whatever timers became due.
  virtual bool manual() const noexcept { return false; }
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
};

class ManualClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return TimePoint(Duration(ns_.load(std::memory_order_acquire))); }
  bool manual() const noexcept override { return true; }
  void advance(Duration d) noexcept { ns_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<Duration::rep> ns_{0};
};

// The process's steady clock, for vats that are given no other.
Clock& steady_clock() noexcept;

}  // namespace vatic
