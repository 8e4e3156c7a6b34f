// Timers: `vat.after(d, f)` runs f once as a turn after d, `vat.every(p, f)`
// every p; both return a Timer that cancels. Timers of one vat fire in deadline
// order, ties in the order they were set. `with_timeout(p, d)` breaks a promise
// with `overloaded` if it has not settled within d.
#pragma once

#include <functional>

#include "vat/clock.h"
#include "vat/internal/refcounted.h"

namespace vatic {

namespace detail {
struct TimerState : RefCounted {
  std::function<void()> fn;
  Duration period{0};  // zero: one-shot
  TimePoint due{};
  bool cancelled = false;
};
}  // namespace detail

class Timer {
 public:
  Timer() = default;
  explicit Timer(detail::Ptr<detail::TimerState> s) : s_(std::move(s)) {}

  void cancel() noexcept {
    if (s_) {
      s_->cancelled = true;
      s_->fn = nullptr;  // drop what the callback holds now, not when it would have fired
    }
  }
  bool active() const noexcept { return s_ && !s_->cancelled; }

 private:
  detail::Ptr<detail::TimerState> s_;
};

}  // namespace vatic
