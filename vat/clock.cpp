// The one place that reads the system's clocks (clock.h says why).
#include "vat/clock.h"

namespace vatic {

TimePoint SteadyClock::now() const noexcept { return std::chrono::steady_clock::now(); }

std::int64_t SteadyClock::unix_ms() const noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Clock& steady_clock() noexcept {
  static SteadyClock clock;
  return clock;
}

}  // namespace vatic
