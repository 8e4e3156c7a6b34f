// Supervision workloads of vat_bench: what a restart costs a client.
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "bench/bench_util.h"
#include "bench/vat_bench.h"
#include "vat/supervise/supervisor.h"
#include "vat/vatic.h"

namespace vat_bench {

using namespace vatic;
using namespace vatic::bench;

namespace {

class Flaky : public Object {
 public:
  std::int64_t ping() { return ++n_; }
  std::int64_t boom() { throw std::runtime_error("injected"); }
  VATIC_METHODS(Flaky, ping, boom)

 private:
  std::int64_t n_ = 0;
};

// A supervisor that never gives up, so every crash restarts.
Ref<Supervisor> tireless(Vat& vat) {
  return vat.make<Supervisor>(
      SupervisorOptions{.name = "bench", .intensity = 1'000'000'000, .period = std::chrono::seconds(1)});
}

}  // namespace

// Crash to first served message of the new incarnation, as a client sees it:
// send the crashing call, and when its answer says it broke, call again; the
// time from the first send to the second answer.
void bench_supervise_restart() {
  const int kWarm = scaled(2'000, 50), kCount = scaled(20'000, 200);
  Vat vat;
  auto sup = tireless(vat);
  auto child = start_child<Flaky>(sup, {.id = "flaky", .start = [&] { return vat.make<Flaky>(); }});
  std::vector<double> lat;
  lat.reserve(kCount);
  for (int i = 0; i < kWarm + kCount; ++i) {
    auto t0 = BenchClock::now();
    auto crash = child.send<&Flaky::boom>();
    vat.run_until_idle();
    if (!crash.is_broken()) fail("supervise.restart: the crash did not break its call");
    if (vat.wait(child.send<&Flaky::ping>()) != 1) fail("supervise.restart: the new incarnation kept old state");
    double us = micros_since(t0);
    if (i >= kWarm) lat.push_back(us);
  }
  auto kids = sup.call<&Supervisor::which_children>();
  if (kids.at(0).incarnation != kWarm + kCount + 1) fail("supervise.restart: a restart was missed");
  emit("supervise.restart_us", percentile(lat, 50), "us");
  emit("supervise.restart_p99_us", percentile(lat, 99), "us");
}

// Back-to-back crashes: restarts a supervisor completes per second.
void bench_supervise_rate() {
  const int kCount = scaled(200'000, 1'000);
  Vat vat;
  auto sup = tireless(vat);
  auto child = start_child<Flaky>(sup, {.id = "flaky", .start = [&] { return vat.make<Flaky>(); }});
  auto t0 = BenchClock::now();
  for (int i = 0; i < kCount; ++i) {
    (void)child.send<&Flaky::boom>();
    vat.run_until_idle();  // the crash, then the restart turn
  }
  double sec = seconds_since(t0);
  if (sup.call<&Supervisor::restarts>() != kCount) fail("supervise.rate: restarts do not match the crashes");
  emit("supervise.restarts_per_s", kCount / sec, "restarts/s");
}

}  // namespace vat_bench
