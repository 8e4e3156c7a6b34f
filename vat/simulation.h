// Simulation: several vats driven by one thread under one manual clock. Every
// step is deterministic (vats run round robin, time moves only when told), so
// a test can replay exactly the same interleaving; later the fault-injecting
// simulator of whole networks of vats builds on this.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vat/clock.h"
#include "vat/vat.h"

namespace vatic {

class Simulation {
 public:
  explicit Simulation(std::size_t n, std::string prefix = "sim");
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;
  ~Simulation();

  std::size_t size() const noexcept { return vats_.size(); }
  Vat& operator[](std::size_t i) { return *vats_.at(i); }
  ManualClock& clock() noexcept { return clock_; }

  // Runs every vat, round robin, until none has anything left to do now;
  // returns the number of turns run.
  std::size_t run_until_idle();
  // Moves the clock forward by `d` and runs what became due.
  std::size_t advance(Duration d);

  // Runs (advancing time by `step` when idle, at most `limit` in all) until `p`
  // settles; returns its value or throws its Error.
  template <class T>
  T wait(Promise<T> p, Duration step = std::chrono::milliseconds(1), Duration limit = std::chrono::seconds(60)) {
    Duration waited{0};
    run_until_idle();
    while (p.pending()) {
      if (waited >= limit) throw_error(ErrorKind::overloaded, "simulation: promise still pending at the time limit");
      advance(step);
      waited += step;
    }
    if (p.is_broken()) throw VatError(p.error());
    if constexpr (!std::is_void_v<T>) return p.value();
  }

 private:
  ManualClock clock_;
  std::vector<std::unique_ptr<Vat>> vats_;
};

}  // namespace vatic
