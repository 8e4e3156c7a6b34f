#include "vat/vat_group.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

using namespace std::chrono_literals;
using test::Counter;
using test::eventually;
using test::future_error;
using test::in;
using test::Node;
using test::Peer;
using test::Pending;

TEST(VatGroup, NamesItsVatsWithThePrefix) {
  VatGroup g(3, "w");
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].name(), "w0");
  EXPECT_EQ(g[2].name(), "w2");
  EXPECT_THROW(g[3], std::out_of_range);
  VatGroup d(1);
  EXPECT_EQ(d[0].name(), "vat0");
}

TEST(VatGroup, EachVatRunsOnItsOwnThread) {
  VatGroup g(3);
  std::set<std::thread::id> ids{std::this_thread::get_id()};
  for (std::size_t i = 0; i < g.size(); ++i) {
    auto [id, current] = in(g[i], [&] { return std::make_pair(std::this_thread::get_id(), Vat::current()); });
    ids.insert(id);
    EXPECT_EQ(current, &g[i]);
  }
  EXPECT_EQ(ids.size(), 4u);
}

TEST(VatGroup, UsesTheGivenClock) {
  ManualClock clock;
  VatGroup g(2, "m", &clock);
  EXPECT_EQ(&g[1].clock(), &clock);
}

TEST(VatGroup, ManyClientsHammerOneObjectAndEverySendCounts) {
  VatGroup g(4);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  std::vector<std::future<std::int64_t>> fs;
  for (int k = 1; k < 4; ++k) {
    fs.push_back(g[k].submit([&] {
      Ref<Counter> far = c.take();
      for (int i = 0; i < 99; ++i) far.send<&Counter::inc>(1);
      return far.send<&Counter::inc>(1);
    }));
  }
  for (auto& f : fs) f.get();
  EXPECT_EQ(in(g[0], [&] { return c.take().call<&Counter::get>(); }), 300);
}

TEST(VatGroup, SubmitFromManyThreadsAtOnce) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) g[1].submit([&] { return c.take().send<&Counter::inc>(1); }).get();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(in(g[0], [&] { return c.take().call<&Counter::get>(); }), 100);
}

// --- Stopping a vat.

TEST(VatGroup, StopVatBreaksFarRefsIntoItWithDisconnected) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  EXPECT_EQ(in(g[1], [&] { return c.take().send<&Counter::inc>(1); }), 1);
  g.stop_vat(0);
  Error e = future_error(g[1], g[1].submit([&] { return c.take().send<&Counter::inc>(1); }));
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
  EXPECT_EQ(in(g[1], [&] { return c.take().kind(); }), RefKind::broken);
}

TEST(VatGroup, StopVatBreaksAFarRefHeldAcrossTheStop) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  auto peer = in(g[1], [&] { return portable(g[1].make<Peer>()); });
  in(g[1], [&] { peer.take().call<&Peer::adopt>(c.take()); });
  EXPECT_EQ(in(g[1], [&] { return peer.take().call<&Peer::poke>(1); }), 1);
  g.stop_vat(0);
  Error e = future_error(g[1], g[1].submit([&] { return peer.take().call<&Peer::poke>(1); }));
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
}

TEST(VatGroup, StopVatBreaksPipelinedSendsIntoIt) {
  VatGroup g(2);
  auto root = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
  g.stop_vat(0);
  Error e = future_error(g[1], g[1].submit([&] {
    Promise<Ref<Node>> cur = root.take().send<&Node::next>();
    for (int i = 0; i < 3; ++i) cur = cur.send<&Node::next>();
    return cur.send<&Node::depth>();
  }));
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
}

TEST(VatGroup, ACallInFlightWhenTheVatStopsBreaksWithDisconnected) {
  VatGroup g(2);
  auto p = in(g[0], [&] { return portable(g[0].make<Pending>()); });
  auto waiting = g[1].submit([&] { return p.take().send<&Pending::wait>(); });
  // Make sure the call has arrived and is waiting before the stop.
  ASSERT_TRUE(eventually(g[1], [&] { return g[1].stats().pending_questions == 1; }));
  EXPECT_EQ(waiting.wait_for(0s), std::future_status::timeout);
  g.stop_vat(0);
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(future_error(g[1], std::move(waiting)).kind, ErrorKind::disconnected);
  EXPECT_TRUE(eventually(g[1], [&] { return g[1].stats().pending_questions == 0; }));
}

TEST(VatGroup, ACallInFlightOnAThenChainBreaksWithDisconnected) {
  VatGroup g(2);
  auto p = in(g[0], [&] { return portable(g[0].make<Pending>()); });
  auto waiting = g[1].submit([&] { return p.take().send<&Pending::later>(3'600'000); });
  ASSERT_TRUE(eventually(g[1], [&] { return g[1].stats().pending_questions == 1; }));
  g.stop_vat(0);
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(future_error(g[1], std::move(waiting)).kind, ErrorKind::disconnected);
}

// A call answered by a Task that is suspended when its vat stops is never
// answered: release destroys the coroutine frame (ResumeListener's destructor)
// without breaking the Task's promise, and the call's result promise, which
// follows it, stays pending forever (and leaks in a reference cycle).
TEST(VatGroup, ACallInFlightOnASuspendedTaskBreaksWithDisconnected) {
  VatGroup g(2);
  auto p = in(g[0], [&] { return portable(g[0].make<Pending>()); });
  auto waiting = g[1].submit([&] { return p.take().send<&Pending::later_task>(3'600'000); });
  ASSERT_TRUE(eventually(g[1], [&] { return g[1].stats().pending_questions == 1; }));
  g.stop_vat(0);
  ASSERT_EQ(waiting.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(future_error(g[1], std::move(waiting)).kind, ErrorKind::disconnected);
}

TEST(VatGroup, SubmitToAStoppedVatFailsDisconnected) {
  VatGroup g(2);
  g.stop_vat(1);
  EXPECT_TRUE(g[1].stopping());
  EXPECT_EQ(future_error(g[1], g[1].submit([] { return 1; })).kind, ErrorKind::disconnected);
  EXPECT_FALSE(g[1].post([] {}));
}

TEST(VatGroup, TheOtherVatsKeepServingAfterOneStops) {
  VatGroup g(3);
  auto c = in(g[2], [&] { return portable(g[2].make<Counter>()); });
  g.stop_vat(0);
  EXPECT_EQ(in(g[1], [&] { return c.take().send<&Counter::inc>(3); }), 3);
}

TEST(VatGroup, StopIsIdempotentAndStopVatAfterStopIsHarmless) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  g.stop();
  g.stop();
  g.stop_vat(1);
  EXPECT_TRUE(g[0].stopping());
  EXPECT_EQ(future_error(g[0], g[0].submit([] { return 1; })).kind, ErrorKind::disconnected);
}

TEST(VatGroup, StoppingDrainsWorkThatArrivedBeforeTheGateClosed) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  std::vector<std::future<void>> posted;
  for (int i = 0; i < 50; ++i) posted.push_back(g[0].submit([&] { c.take().call<&Counter::inc>(1); }));
  g.stop_vat(0);
  int ran = 0;
  for (auto& f : posted) {
    f.get();
    ++ran;
  }
  EXPECT_EQ(ran, 50);
}

}  // namespace
}  // namespace vatic

namespace vatic {
namespace {

TEST(VatGroup, AReferenceUsedFromOutsideWhileItsVatRunsIsRefused) {
  VatGroup g(1);
  // Smuggle a near reference out to this thread (what the check is for).
  Ref<test::Counter> c = g[0].submit([&] { return g[0].make<test::Counter>(); }).get();
  EXPECT_TRUE(g[0].runs_elsewhere());
  Error e = test::thrown([&] { c.send<&test::Counter::inc>(1); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_NE(e.reason.find("submit"), std::string::npos);
  // Hand it back so it is dropped on its own thread.
  g[0].submit([r = std::move(c)]() mutable { r = {}; }).get();
}

}  // namespace
}  // namespace vatic

namespace vatic {
namespace {

TEST(VatGroup, MakingAnObjectInAnotherVatsThreadIsRefused) {
  VatGroup g(2);
  Error e = g[1].submit([&] { return test::thrown([&] { g[0].make<test::Counter>(); }); }).get();
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_NE(e.reason.find("vat vat1"), std::string::npos) << e.reason;
  Error outside = test::thrown([&] { g[0].make<test::Counter>(); });
  EXPECT_NE(outside.reason.find("another thread"), std::string::npos) << outside.reason;
  EXPECT_EQ(g[0].submit([&] { return g[0].live_objects(); }).get(), 0u);
}

}  // namespace
}  // namespace vatic
