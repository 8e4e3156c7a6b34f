// Monitors: a promise that settles when a reference breaks: the object gone,
// its vat stopped, a promise broken, a supervised incarnation ended. (Across
// CapTP and a killed peer process: tests/captp/supervision_remote_test.cpp.)
#include "vat/monitor.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <optional>

#include "tests/vat/test_objects.h"
#include "vat/supervise/supervisor.h"
#include "vat/vat_group.h"

namespace vatic {
namespace {

using namespace std::chrono_literals;
using test::Counter;
using test::in;

TEST(Monitor, StaysPendingWhileTheObjectLivesAndFiresWhenItIsGone) {
  Vat vat;
  auto c = vat.make<Counter>();
  Promise<Error> m = monitor(c);
  vat.run_until_idle();
  EXPECT_TRUE(m.pending());
  EXPECT_EQ(vat.wait(c.send<&Counter::inc>(1)), 1);  // the monitor does not get in the way
  EXPECT_EQ(vat.live_objects(), 1u);
  c = Ref<Counter>();  // the last reference: the monitor must not keep it alive
  vat.run_until_idle();
  EXPECT_EQ(vat.live_objects(), 0u);
  ASSERT_TRUE(m.ready());
  EXPECT_EQ(m.value().kind, ErrorKind::disconnected);
  EXPECT_NE(m.value().reason.find("object gone"), std::string::npos);
}

TEST(Monitor, ManyMonitorsOnOneObjectAllFire) {
  Vat vat;
  auto c = vat.make<Counter>();
  std::vector<Promise<Error>> ms;
  for (int i = 0; i < 100; ++i) ms.push_back(monitor(c));
  vat.run_until_idle();
  c = Ref<Counter>();
  vat.run_until_idle();
  for (auto& m : ms) EXPECT_TRUE(m.ready());
}

TEST(Monitor, DroppedMonitorsDoNotAccumulate) {
  Vat vat;
  auto c = vat.make<Counter>();
  for (int i = 0; i < 10'000; ++i) {
    (void)monitor(c);
    vat.run_until_idle();
  }
  auto* o = detail::RefAccess::handler(c)->near_object();
  ASSERT_NE(o->hooks(), nullptr);
  EXPECT_LT(o->hooks()->monitors.size(), 64u);
}

TEST(Monitor, OfABrokenPromiseSettlesWithItsReason) {
  Vat vat;
  auto [p, r] = test::run_in(vat, [] { return make_promise<Ref<Counter>>(); });
  // A reference that is still a promise (what pipelining hands out).
  auto via = detail::RefAccess::make<Counter>(detail::HandlerPtr(p.state()));
  Promise<Error> m = monitor(via);
  vat.run_until_idle();
  EXPECT_TRUE(m.pending());
  r.reject(Error{ErrorKind::failed, "never made"});
  vat.run_until_idle();
  ASSERT_TRUE(m.ready());
  EXPECT_EQ(m.value(), (Error{ErrorKind::failed, "never made"}));
}

TEST(Monitor, OfAFarReferenceFiresWhenItsVatStops) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  auto fired = std::make_shared<std::promise<Error>>();
  in(g[1], [&] {
    monitor(c.take()).then([fired](const Error& e) { fired->set_value(e); });
    return true;
  });
  auto fut = fired->get_future();
  EXPECT_EQ(fut.wait_for(50ms), std::future_status::timeout);
  g.stop_vat(0);
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fut.get().kind, ErrorKind::disconnected);
}

// A reference that is a promise resolved to a far reference (what a call's
// answer or a bootstrap is), monitored after that reference broke: the
// monitor settles with the far reference's reason, not an empty one.
TEST(Monitor, SetLateOnAPromiseResolvedToABrokenReferenceSettlesWithItsReason) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  std::optional<Ref<Counter>> via;  // g[1]'s
  auto gone = std::make_shared<std::promise<Error>>();
  in(g[1], [&] {
    Ref<Counter> far = c.take();
    auto [p, r] = make_promise<Ref<Counter>>();
    r.resolve(far);
    via = detail::RefAccess::make<Counter>(detail::HandlerPtr(p.state()));
    monitor(far).then([gone](const Error& e) { gone->set_value(e); });
    return true;
  });
  g.stop_vat(0);
  auto first = gone->get_future();
  ASSERT_EQ(first.wait_for(5s), std::future_status::ready);
  Error why = first.get();
  auto late = std::make_shared<std::promise<Error>>();
  in(g[1], [&] {
    monitor(*via).then([late](const Error& e) { late->set_value(e); });
    return true;
  });
  auto second = late->get_future();
  ASSERT_EQ(second.wait_for(5s), std::future_status::ready);
  Error late_why = second.get();
  EXPECT_EQ(late_why.kind, why.kind);
  EXPECT_NE(late_why.reason.find(why.reason), std::string::npos) << late_why.reason;  // it once was ""
  in(g[1], [&] {
    via.reset();
    return true;
  });
}

class Child : public Object {
 public:
  std::int64_t boom() { throw std::runtime_error("kaput"); }
  std::int64_t ping() { return 1; }
  VATIC_METHODS(Child, boom, ping)
};

TEST(Monitor, OfASupervisedChildFiresWhenItsIncarnationCrashes) {
  Vat vat;
  auto sup = vat.make<Supervisor>(SupervisorOptions{.name = "s"});
  auto child = start_child<Child>(sup, {.id = "c", .start = [&] { return vat.make<Child>(); }});
  Promise<Error> first = monitor(child);
  vat.run_until_idle();
  EXPECT_TRUE(first.pending());
  (void)child.send<&Child::boom>();
  vat.run_until_idle();
  ASSERT_TRUE(first.ready());
  EXPECT_EQ(first.value().kind, ErrorKind::disconnected);
  EXPECT_NE(first.value().reason.find("kaput"), std::string::npos) << first.value().reason;
  // A monitor set now watches the new incarnation.
  Promise<Error> second = monitor(child);
  EXPECT_EQ(vat.wait(child.send<&Child::ping>()), 1);
  EXPECT_TRUE(second.pending());
}

}  // namespace
}  // namespace vatic
