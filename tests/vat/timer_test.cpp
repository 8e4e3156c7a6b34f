#include "vat/timer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

using namespace std::chrono_literals;
using test::Pending;
using test::run_in;

class Timers : public ::testing::Test {
 protected:
  ManualClock clock;
  Vat vat{VatOptions{.name = "timed", .clock = &clock}};
  std::vector<std::string> fired;

  std::function<void()> note(std::string what) {
    return [this, what] { fired.push_back(what); };
  }
  void advance(Duration d) {
    clock.advance(d);
    vat.run_until_idle();
  }
};

TEST(ManualClock, MovesOnlyWhenAdvanced) {
  ManualClock c;
  auto t0 = c.now();
  EXPECT_EQ(c.now(), t0);
  c.advance(5ms);
  EXPECT_EQ(c.now() - t0, 5ms);
  EXPECT_TRUE(c.manual());
}

TEST(SteadyClock, IsMonotonicAndNotManual) {
  auto a = steady_clock().now();
  auto b = steady_clock().now();
  EXPECT_LE(a, b);
  EXPECT_FALSE(steady_clock().manual());
}

TEST_F(Timers, AfterFiresOnceTheDelayHasPassed) {
  vat.after(10ms, note("a"));
  advance(9ms);
  EXPECT_TRUE(fired.empty());
  advance(1ms);
  EXPECT_EQ(fired, (std::vector<std::string>{"a"}));
  advance(100ms);
  EXPECT_EQ(fired.size(), 1u);
}

TEST_F(Timers, FireInDeadlineOrderNotTheOrderSet) {
  vat.after(30ms, note("30"));
  vat.after(10ms, note("10"));
  vat.after(20ms, note("20"));
  advance(50ms);
  EXPECT_EQ(fired, (std::vector<std::string>{"10", "20", "30"}));
}

TEST_F(Timers, EqualDeadlinesFireInTheOrderSet) {
  for (int i = 0; i < 8; ++i) vat.after(5ms, note(std::to_string(i)));
  advance(5ms);
  EXPECT_EQ(fired, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7"}));
}

TEST_F(Timers, ZeroDelayFiresOnTheNextRun) {
  vat.after(0ms, note("now"));
  EXPECT_TRUE(fired.empty());
  vat.run_until_idle();
  EXPECT_EQ(fired, (std::vector<std::string>{"now"}));
}

TEST_F(Timers, ACallbackRunsAsATurnOfTheVat) {
  Vat* seen = nullptr;
  vat.after(1ms, [&] { seen = Vat::current(); });
  advance(1ms);
  EXPECT_EQ(seen, &vat);
  EXPECT_EQ(vat.stats().turns_run, 1u);
}

TEST_F(Timers, CancelledTimersDoNotFire) {
  auto t = vat.after(10ms, note("cancelled"));
  vat.after(10ms, note("kept"));
  EXPECT_TRUE(t.active());
  t.cancel();
  EXPECT_FALSE(t.active());
  t.cancel();  // twice is harmless
  advance(10ms);
  EXPECT_EQ(fired, (std::vector<std::string>{"kept"}));
}

TEST_F(Timers, CancelDropsWhatTheCallbackHolds) {
  auto held = std::make_shared<int>(1);
  auto t = vat.after(10ms, [held] {});
  EXPECT_EQ(held.use_count(), 2);
  t.cancel();
  EXPECT_EQ(held.use_count(), 1);
}

TEST_F(Timers, DefaultTimerIsInactiveAndCancelIsANoOp) {
  Timer t;
  EXPECT_FALSE(t.active());
  t.cancel();
}

TEST_F(Timers, EveryFiresEachPeriod) {
  int n = 0;
  auto t = vat.every(10ms, [&] { ++n; });
  advance(5ms);
  EXPECT_EQ(n, 0);
  for (int i = 1; i <= 5; ++i) {
    advance(10ms);
    EXPECT_EQ(n, i);
  }
  t.cancel();
  advance(100ms);
  EXPECT_EQ(n, 5);
}

TEST_F(Timers, APeriodicTimerMayCancelItselfFromItsCallback) {
  int n = 0;
  Timer t;
  t = vat.every(1ms, [&] {
    if (++n == 3) t.cancel();
  });
  for (int i = 0; i < 10; ++i) advance(1ms);
  EXPECT_EQ(n, 3);
}

TEST_F(Timers, EveryNeedsAPositivePeriod) {
  EXPECT_THROW(vat.every(0ms, [] {}), VatError);
  EXPECT_THROW(vat.every(-1ms, [] {}), VatError);
}

TEST_F(Timers, APeriodicTimerAndOneShotsInterleaveByDeadline) {
  vat.every(10ms, note("tick"));
  vat.after(15ms, note("mid"));
  // Due with the tick's second deadline, which is set only when the tick first
  // fires: so "late" was set first and fires first.
  vat.after(20ms, note("late"));
  for (int i = 0; i < 3; ++i) advance(10ms);
  EXPECT_EQ(fired, (std::vector<std::string>{"tick", "mid", "late", "tick", "tick"}));
}

TEST_F(Timers, AThrowingCallbackIsCountedAndOtherTimersStillFire) {
  vat.after(1ms, [] { throw std::runtime_error("timer"); });
  vat.after(1ms, note("after"));
  advance(1ms);
  EXPECT_EQ(vat.stats().turn_failures, 1u);
  EXPECT_EQ(fired, (std::vector<std::string>{"after"}));
}

// A periodic timer that fell behind by several periods fires twice in one go:
// fire_due_timers re-queues it at max(due + period, now), which is `now` and so
// is due again within the same loop (vat.cpp, fire_due_timers).
TEST_F(Timers, APeriodicTimerThatFellBehindFiresOnceNotTwice) {
  int n = 0;
  vat.every(10ms, [&] { ++n; });
  advance(35ms);
  EXPECT_EQ(n, 1);
  advance(10ms);
  EXPECT_EQ(n, 2);
}

TEST_F(Timers, APeriodicTimerThatFellBehindDoesNotReplayEveryMissedTick) {
  int n = 0;
  vat.every(10ms, [&] { ++n; });
  advance(100ms);
  EXPECT_GE(n, 1);
  EXPECT_LT(n, 10);
}

TEST_F(Timers, SleepSettlesAfterTheDelay) {
  auto p = vat.sleep(20ms);
  advance(19ms);
  EXPECT_TRUE(p.pending());
  advance(1ms);
  EXPECT_TRUE(p.ready());
  vat.wait(p);
}

TEST_F(Timers, SleepsSettleInDeadlineOrder) {
  std::vector<int> order;
  run_in(vat, [&] {
    vat.sleep(3ms).then([&] { order.push_back(3); });
    vat.sleep(1ms).then([&] { order.push_back(1); });
    vat.sleep(2ms).then([&] { order.push_back(2); });
  });
  advance(5ms);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(Timers, WaitOnASleepFailsIfTheManualClockIsNotAdvanced) {
  auto p = vat.sleep(1s);
  EXPECT_THROW(vat.wait(p), VatError);
  clock.advance(1s);
  vat.wait(p);
}

TEST(Sleep, WorksWithTheRealClock) {
  Vat vat;
  auto p = vat.sleep(2ms);
  EXPECT_TRUE(p.pending());
  vat.wait(p);
  EXPECT_TRUE(p.ready());
}

TEST(Timer, RealClockTimersFireWhileWaiting) {
  Vat vat;
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  auto shared = std::make_shared<Resolver<int>>(std::move(r));
  vat.after(1ms, [shared] { shared->resolve(5); });
  EXPECT_EQ(vat.wait(p), 5);
}

// --- with_timeout.

TEST_F(Timers, WithTimeoutBreaksAPendingPromiseWithOverloaded) {
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  auto t = with_timeout(p, 50ms);
  advance(49ms);
  EXPECT_TRUE(t.pending());
  advance(1ms);
  ASSERT_TRUE(t.is_broken());
  EXPECT_EQ(t.error(), (Error{ErrorKind::overloaded, "deadline of 50 ms exceeded"}));
  // A late answer changes nothing.
  r.resolve(1);
  vat.run_until_idle();
  EXPECT_TRUE(t.is_broken());
  EXPECT_TRUE(p.ready());
}

TEST_F(Timers, WithTimeoutPassesAValueThatArrivesInTime) {
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  auto t = with_timeout(p, 50ms);
  advance(10ms);
  r.resolve(8);
  vat.run_until_idle();
  EXPECT_EQ(vat.wait(t), 8);
  advance(100ms);
  EXPECT_EQ(vat.wait(t), 8);
}

TEST_F(Timers, WithTimeoutPassesAnErrorThatArrivesInTimeUnchanged) {
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  auto t = with_timeout(p, 50ms);
  r.reject(Error{ErrorKind::unimplemented, "no"});
  vat.run_until_idle();
  EXPECT_EQ(test::broken_error(vat, t), (Error{ErrorKind::unimplemented, "no"}));
  advance(100ms);
  EXPECT_EQ(t.error().kind, ErrorKind::unimplemented);
}

TEST_F(Timers, WithTimeoutWorksOnVoidPromises) {
  auto slow = with_timeout(vat.sleep(1s), 10ms);
  auto fast = with_timeout(vat.sleep(5ms), 10ms);
  advance(10ms);
  EXPECT_TRUE(fast.ready());
  ASSERT_TRUE(slow.is_broken());
  EXPECT_EQ(slow.error().kind, ErrorKind::overloaded);
}

TEST_F(Timers, WithTimeoutOnASlowMethod) {
  auto pend = vat.make<Pending>();
  auto slow = with_timeout(pend.send<&Pending::later>(100), 20ms);
  auto fast = with_timeout(pend.send<&Pending::later>(5), 20ms);
  vat.run_until_idle();
  advance(5ms);
  EXPECT_EQ(vat.wait(fast), 7);
  advance(15ms);
  EXPECT_EQ(test::broken_error(vat, slow).kind, ErrorKind::overloaded);
}

}  // namespace
}  // namespace vatic

namespace vatic {
namespace {

TEST(ManualClockWall, WallTimeMovesWithAdvanceAndCanBeSetAlone) {
  ManualClock c;
  EXPECT_EQ(c.unix_ms(), ManualClock::kDefaultUnixMs);
  c.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(c.unix_ms(), ManualClock::kDefaultUnixMs + 1500);
  EXPECT_EQ(c.unix_seconds(), ManualClock::kDefaultUnixMs / 1000 + 1);
  TimePoint before = c.now();
  c.set_unix_ms(1'000);  // set back, as an operator may: now() does not move
  EXPECT_EQ(c.unix_ms(), 1'000);
  EXPECT_EQ(c.now(), before);
  c.advance(std::chrono::milliseconds(5));
  EXPECT_EQ(c.unix_ms(), 1'005);
}

TEST(ManualClockWall, TheSteadyClockReadsTheSystemWallClock) {
  // After 2020-01-01: the real clock, not zero or a manual default.
  EXPECT_GT(steady_clock().unix_ms(), 1'577'836'800'000);
  EXPECT_FALSE(steady_clock().manual());
}

}  // namespace
}  // namespace vatic
