#include "vat/simulation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "vat/vatic.h"

using namespace std::chrono_literals;

namespace sim_test {

class Log : public vatic::Object {
 public:
  void add(std::string s) { entries.push_back(std::move(s)); }
  std::vector<std::string> get() const { return entries; }
  VATIC_METHODS(Log, add, get)
  std::vector<std::string> entries;
};

class Pinger : public vatic::Object {
 public:
  // Sends `n` numbered entries to the log, one every `gap` of the vat's clock.
  vatic::Task<void> ping(vatic::Ref<Log> log, std::string tag, int n, int64_t gap_ms) {
    for (int i = 0; i < n; ++i) {
      co_await vat().sleep(std::chrono::milliseconds(gap_ms));
      log.send<&Log::add>(tag + std::to_string(i));
    }
  }
  VATIC_METHODS(Pinger, ping)
};

std::vector<std::string> run_once() {
  vatic::Simulation sim(3);
  auto log = sim[0].make<Log>();
  auto pl = vatic::portable(log);
  auto a = sim[1].make<Pinger>();
  auto b = sim[2].make<Pinger>();
  vatic::Promise<void> pa, pb;
  sim[1].post([&] { pa = a.send<&Pinger::ping>(pl.take(), "a", 3, 5); });
  sim[2].post([&] { pb = b.send<&Pinger::ping>(pl.take(), "b", 3, 7); });
  sim.run_until_idle();
  sim.wait(pa);
  sim.wait(pb);
  return log.call<&Log::get>();
}

}  // namespace sim_test

using namespace sim_test;

TEST(Simulation, ManyVatsInOneThreadFollowTheManualClock) {
  auto entries = run_once();
  // a at 5, 10, 15 ms; b at 7, 14, 21 ms of simulated time.
  EXPECT_EQ(entries, (std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "b2"}));
}

TEST(Simulation, RunsAreDeterministic) { EXPECT_EQ(run_once(), run_once()); }

TEST(Simulation, NothingHappensUntilTimeAdvances) {
  vatic::Simulation sim(1);
  int fired = 0;
  sim[0].after(10ms, [&] { ++fired; });
  sim.run_until_idle();
  EXPECT_EQ(fired, 0);
  sim.advance(9ms);
  EXPECT_EQ(fired, 0);
  sim.advance(1ms);
  EXPECT_EQ(fired, 1);
}
