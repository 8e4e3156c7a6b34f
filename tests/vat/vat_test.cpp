#include "vat/vat.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

using test::Counter;
using test::Pending;
using test::run_in;

TEST(Vat, HasTheGivenName) {
  Vat named(VatOptions{.name = "alice"});
  EXPECT_EQ(named.name(), "alice");
  Vat dflt;
  EXPECT_EQ(dflt.name(), "vat");
}

TEST(Vat, CurrentIsTheVatRunningTheTurnAndNullOutside) {
  Vat vat;
  EXPECT_EQ(Vat::current(), nullptr);
  Vat* seen = nullptr;
  vat.post([&] { seen = Vat::current(); });
  vat.run_until_idle();
  EXPECT_EQ(seen, &vat);
  EXPECT_EQ(Vat::current(), nullptr);
}

TEST(Vat, RunUntilIdleRunsEverythingQueuedAndCountsTurns) {
  Vat vat;
  auto c = vat.make<Counter>();
  for (int i = 0; i < 5; ++i) c.send<&Counter::inc>(1);
  EXPECT_EQ(vat.stats().queued_turns, 5u);
  EXPECT_EQ(vat.run_until_idle(), 5u);
  EXPECT_EQ(vat.run_until_idle(), 0u);
  EXPECT_EQ(c.call<&Counter::get>(), 5);
  EXPECT_EQ(vat.stats().turns_run, 5u);
  EXPECT_EQ(vat.stats().queued_turns, 0u);
}

TEST(Vat, TurnsSentDuringATurnRunAfterIt) {
  Vat vat;
  auto c = vat.make<Counter>();
  std::vector<std::int64_t> seen;
  vat.post([&] {
    c.send<&Counter::inc>(1);
    seen.push_back(c.call<&Counter::get>());
  });
  vat.run_until_idle();
  seen.push_back(c.call<&Counter::get>());
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1}));
}

TEST(Vat, SmallBatchesStillRunEverything) {
  Vat vat(VatOptions{.turns_per_batch = 1});
  auto c = vat.make<Counter>();
  for (int i = 0; i < 20; ++i) c.send<&Counter::inc>(1);
  EXPECT_EQ(vat.run_until_idle(), 20u);
  EXPECT_EQ(c.call<&Counter::get>(), 20);
}

TEST(Vat, SendsOnOneReferenceRunInSendOrder) {
  Vat vat;
  auto c = vat.make<Counter>();
  std::vector<Promise<std::int64_t>> ps;
  for (int i = 1; i <= 50; ++i) ps.push_back(c.send<&Counter::inc>(i));
  std::int64_t sum = 0;
  for (int i = 1; i <= 50; ++i) EXPECT_EQ(vat.wait(ps[i - 1]), sum += i);
}

TEST(Vat, WaitReturnsTheValueOrThrowsTheError) {
  Vat vat;
  auto c = vat.make<Counter>();
  EXPECT_EQ(vat.wait(c.send<&Counter::inc>(2)), 2);
  vat.wait(c.send<&Counter::reset>());
  EXPECT_THROW(vat.wait(c.send<&Counter::boom>()), VatError);
}

// --- Exceptions in turns.

TEST(Vat, AnExceptionInATurnLeavesTheVatServing) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto first = c.send<&Counter::inc>(1);
  auto bad = c.send<&Counter::boom>();
  auto after = c.send<&Counter::inc>(1);
  EXPECT_EQ(test::broken_error(vat, bad), (Error{ErrorKind::failed, "boom"}));
  EXPECT_EQ(vat.wait(first), 1);
  EXPECT_EQ(vat.wait(after), 2);
  EXPECT_EQ(vat.wait(c.send<&Counter::get>()), 2);
  // The throw broke a promise, so it is not counted as an unhandled failure.
  EXPECT_EQ(vat.stats().turn_failures, 0u);
}

TEST(Vat, AnExceptionEscapingAPostedTurnIsCountedAndTheVatGoesOn) {
  Vat vat;
  auto c = vat.make<Counter>();
  vat.post([] { throw std::runtime_error("loose"); });
  vat.post([] { throw 17; });
  auto after = c.send<&Counter::inc>(1);
  vat.run_until_idle();
  EXPECT_EQ(vat.stats().turn_failures, 2u);
  EXPECT_EQ(vat.wait(after), 1);
}

TEST(Vat, AVatErrorThrownInAMethodKeepsItsKind) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto p = c.send<&Counter::fail_with>(static_cast<int>(ErrorKind::disconnected), "fell over");
  EXPECT_EQ(test::broken_error(vat, p), (Error{ErrorKind::disconnected, "fell over"}));
}

// --- post and submit.

TEST(Vat, SubmitReturnsTheLambdasResult) {
  Vat vat;
  auto f = vat.submit([] { return 6 * 7; });
  vat.run_until_idle();
  EXPECT_EQ(f.get(), 42);
}

TEST(Vat, SubmitOfAVoidLambdaGivesAVoidFuture) {
  Vat vat;
  bool ran = false;
  auto f = vat.submit([&] { ran = true; });
  vat.run_until_idle();
  f.get();
  EXPECT_TRUE(ran);
}

TEST(Vat, SubmitOfAPromiseYieldsItsSettledValue) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto f = vat.submit([&] { return c.send<&Counter::inc>(9); });
  vat.run_until_idle();
  EXPECT_EQ(f.get(), 9);
}

TEST(Vat, SubmitOfABrokenPromiseThrowsItsErrorFromTheFuture) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto f = vat.submit([&] { return c.send<&Counter::boom>(); });
  vat.run_until_idle();
  EXPECT_EQ(test::future_error(std::move(f)), (Error{ErrorKind::failed, "boom"}));
}

TEST(Vat, SubmitOfAThrowingLambdaThrowsFromTheFuture) {
  Vat vat;
  auto f = vat.submit([]() -> int { throw std::out_of_range("nope"); });
  vat.run_until_idle();
  EXPECT_THROW(f.get(), std::out_of_range);
  EXPECT_EQ(vat.stats().turn_failures, 0u);
}

TEST(Vat, SubmitFromANonVatThreadWhileTheVatRuns) {
  Vat vat;
  auto c = vat.make<Counter>();
  std::int64_t total = 0;
  std::thread client([&] {
    for (int i = 1; i <= 10; ++i) total = vat.submit([&c, i] { return c.send<&Counter::inc>(i); }).get();
    vat.stop();
  });
  vat.run();
  client.join();
  EXPECT_EQ(total, 55);
  EXPECT_EQ(c.call<&Counter::get>(), 55);
}

TEST(Vat, PostFromManyThreadsRunsEveryTurn) {
  Vat vat;
  auto c = vat.make<Counter>();
  std::atomic<int> posted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i)
        if (vat.post([&c] { c.call<&Counter::inc>(1); })) ++posted;
    });
  for (auto& t : threads) t.join();
  vat.run_until_idle();
  EXPECT_EQ(posted.load(), 400);
  EXPECT_EQ(c.call<&Counter::get>(), 400);
}

TEST(Vat, StopMakesRunReturnAfterDrainingWhatArrived) {
  Vat vat;
  auto c = vat.make<Counter>();
  for (int i = 0; i < 3; ++i) vat.post([&c] { c.send<&Counter::inc>(1); });
  vat.stop();
  EXPECT_TRUE(vat.stopping());
  vat.run();
  EXPECT_EQ(c.call<&Counter::get>(), 3);
}

TEST(Vat, AfterStopPostIsRefusedAndSubmitFailsDisconnected) {
  Vat vat;
  vat.stop();
  EXPECT_FALSE(vat.post([] {}));
  auto f = vat.submit([] { return 1; });
  EXPECT_EQ(test::future_error(std::move(f)).kind, ErrorKind::disconnected);
}

TEST(Vat, ReleaseBreaksASubmittedPromiseWithDisconnected) {
  Vat vat;
  auto f = vat.submit([&] { return vat.sleep(std::chrono::hours(1)); });
  vat.run_until_idle();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  vat.release();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(test::future_error(std::move(f)).kind, ErrorKind::disconnected);
}

TEST(Vat, ReleaseBreaksAPendingThenChainWithDisconnected) {
  Vat vat;
  auto f = vat.submit([&] { return vat.sleep(std::chrono::hours(1)).then([] { return 1; }); });
  vat.run_until_idle();
  vat.release();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(test::future_error(std::move(f)).kind, ErrorKind::disconnected);
}

TEST(Vat, ReleaseFreesExportedObjectsAndBreaksWhatWaitsOnThem) {
  Vat vat(VatOptions{.name = "v"});
  auto pp = portable(vat.make<Pending>());
  auto f = vat.submit([&] { return pp.take().send<&Pending::wait>(); });
  vat.run_until_idle();
  EXPECT_EQ(vat.live_objects(), 1u);
  EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  vat.release();
  EXPECT_EQ(vat.live_objects(), 0u);
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(test::future_error(std::move(f)).kind, ErrorKind::disconnected);
}

TEST(Vat, ReleaseIsIdempotentAndTheDestructorCopesWithIt) {
  auto vat = std::make_unique<Vat>();
  vat->make<Counter>();
  vat->release();
  vat->release();
  EXPECT_TRUE(vat->stopping());
  EXPECT_FALSE(vat->post([] {}));
  vat.reset();
}

TEST(Vat, StatsCountTimersAndObjects) {
  ManualClock clock;
  Vat vat(VatOptions{.clock = &clock});
  auto c = vat.make<Counter>();
  auto t = vat.after(std::chrono::seconds(1), [] {});
  auto s = vat.stats();
  EXPECT_EQ(s.live_objects, 1u);
  EXPECT_EQ(s.timers, 1u);
  EXPECT_EQ(s.pending_questions, 0u);
  EXPECT_EQ(&vat.clock(), &clock);
}

TEST(Vat, UsesTheSteadyClockByDefault) {
  Vat vat;
  EXPECT_EQ(&vat.clock(), &steady_clock());
  EXPECT_FALSE(vat.clock().manual());
}

}  // namespace
}  // namespace vatic

namespace vatic {
namespace {

// run() with and without the idle spin serves work from other threads alike.
class RunLoop : public ::testing::TestWithParam<int> {};

TEST_P(RunLoop, ServesSubmittedWorkAndStops) {
  VatOptions o;
  o.spin_before_block = std::chrono::microseconds(GetParam());
  Vat vat(o);
  std::thread t([&] { vat.run(); });
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(vat.submit([&] { return vat.make<test::Counter>(i).send<&test::Counter::get>(); }).get(), i);
  }
  vat.stop();
  t.join();
  EXPECT_EQ(vat.stats().live_objects, 0u);
}

INSTANTIATE_TEST_SUITE_P(Spin, RunLoop, ::testing::Values(0, 50, 1000));

}  // namespace
}  // namespace vatic
