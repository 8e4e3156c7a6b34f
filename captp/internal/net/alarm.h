// Alarm: one re-armable deadline of a secure channel or a handshake (the
// handshake deadline, the idle deadline and ping schedule, the close linger),
// and Alarms, where alarms and the time they compare against come from.
//
// On a vat, which is how a Node runs channels, an alarm is a vat timer
// (`vat.after`, vat/timer.h) and the time is `vat.clock()`: under a ManualClock
// an idle deadline fires only when the driver advances the clock, so CapTP can
// be simulated. A lone channel on a bare io_context (the channel tests, which
// drive the loop themselves and have no vat) gets Asio timers on the process's
// steady clock.
//
// Ownership and threads: a channel holds its Alarms by shared_ptr and its
// alarms by unique_ptr; everything runs on the io_context's (the vat's) thread.
// Destroying or cancelling an alarm drops its callback at once; a callback never
// runs after cancel().
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "vat/clock.h"

namespace vatic {
class Vat;
}

namespace vatic::captp {

class Alarm {
 public:
  virtual ~Alarm() = default;
  // Runs `f` once, at `at` or as soon after as the loop gets to it; replaces
  // whatever was set before.
  virtual void set(TimePoint at, std::function<void()> f) = 0;
  virtual void cancel() noexcept = 0;
};

class Alarms {
 public:
  virtual ~Alarms() = default;
  virtual const Clock& clock() const noexcept = 0;
  TimePoint now() const noexcept { return clock().now(); }
  virtual std::unique_ptr<Alarm> make() = 0;
};

// The vat's timers and clock; `vat` must outlive every alarm made.
std::shared_ptr<Alarms> vat_alarms(Vat& vat);
// Asio timers on `io` and the process's steady clock (vatic::steady_clock()).
std::shared_ptr<Alarms> asio_alarms(boost::asio::io_context& io);

}  // namespace vatic::captp
