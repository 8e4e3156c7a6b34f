// Supervisor semantics: each strategy and restart type, slot references that
// survive restarts, calls in flight breaking with the restart reason,
// intensity escalation through a three-level tree, backoff, dynamic children,
// graceful shutdown and the crash log.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "vat/introspect.h"
#include "vat/monitor.h"
#include "vat/supervise/supervisor.h"
#include "vat/vat.h"

namespace vatic {
namespace {

using namespace std::chrono_literals;

struct Gate {
  std::vector<Resolver<std::int64_t>> waiting;
};

class Worker : public Object {
 public:
  Worker(int* starts, Gate* gate) : gate_(gate) { ++*starts; }
  std::int64_t inc() { return ++n_; }
  std::int64_t get() { return n_; }
  std::int64_t boom() { throw std::runtime_error("boom"); }
  std::int64_t refuse() { throw VatError(ErrorKind::failed, "refused: not now"); }
  std::int64_t die(std::string why) { crash(why); }
  void done() { finish(); }
  // Waits on a promise the test settles: a call that is in flight.
  Promise<std::int64_t> slow() {
    auto [p, r] = make_promise<std::int64_t>();
    gate_->waiting.push_back(std::move(r));
    return p;
  }
  Task<std::int64_t> slow_then_boom() {
    co_await slow();
    throw std::runtime_error("late boom");
  }
  Task<std::int64_t> catches_helper() {
    try {
      co_await helper();
    } catch (const std::exception&) {
    }
    co_return ++n_;
  }
  VATIC_METHODS(Worker, inc, get, boom, refuse, die, done, slow, slow_then_boom, catches_helper)

 private:
  Task<std::int64_t> helper() {
    throw std::runtime_error("helper failed");
    co_return 0;
  }
  Gate* gate_;
  std::int64_t n_ = 0;
};

struct Fixture : ::testing::Test {
  ManualClock clock;
  Vat vat{VatOptions{.name = "sup", .clock = &clock}};
  Gate gate;
  std::map<std::string, int> starts;

  Ref<Supervisor> make_sup(SupervisorOptions o) { return vat.make<Supervisor>(std::move(o)); }
  ChildSpec spec(const std::string& id, Restart r = Restart::permanent) {
    return ChildSpec{.id = id, .start = [this, id] { return vat.make<Worker>(&starts[id], &gate); }, .restart = r};
  }
  template <class T>
  T wait(Promise<T> p) {
    return vat.wait(std::move(p));
  }
  Error broken(Promise<std::int64_t> p) {
    vat.run_until_idle();
    EXPECT_TRUE(p.is_broken());
    return p.is_broken() ? p.error() : Error{};
  }
};

TEST_F(Fixture, OneForOneRestartsTheChildWithFreshStateBehindTheSameReference) {
  auto sup = make_sup({.name = "root"});
  Ref<Worker> w = start_child<Worker>(sup, spec("w"));
  EXPECT_EQ(wait(w.send<&Worker::inc>()), 1);
  EXPECT_EQ(wait(w.send<&Worker::inc>()), 2);
  Error e = broken(w.send<&Worker::boom>());
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "boom");                 // the crashing call learns what happened
  EXPECT_EQ(wait(w.send<&Worker::inc>()), 1);  // a new incarnation
  EXPECT_EQ(starts["w"], 2);
  EXPECT_TRUE(w == child_ref<Worker>(sup, "w"));
  auto kids = sup.call<&Supervisor::which_children>();
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0].restarts, 1);
  EXPECT_EQ(kids[0].incarnation, 2);
  EXPECT_EQ(kids[0].state, "running");
}

TEST_F(Fixture, CallsInFlightAtTheCrashBreakDisconnectedSayingItRestarted) {
  auto sup = make_sup({.name = "root"});
  Ref<Worker> w = start_child<Worker>(sup, spec("w"));
  auto waiting = w.send<&Worker::slow>();
  vat.run_until_idle();
  ASSERT_TRUE(waiting.pending());
  auto crash = w.send<&Worker::boom>();
  auto queued = w.send<&Worker::inc>();  // sent before the crash ran
  vat.run_until_idle();
  for (auto* p : {&waiting, &queued}) {
    ASSERT_TRUE(p->is_broken());
    EXPECT_EQ(p->error().kind, ErrorKind::disconnected);
    EXPECT_NE(p->error().reason.find("restarted, retry is safe"), std::string::npos) << p->error().reason;
    EXPECT_NE(p->error().reason.find("boom"), std::string::npos) << p->error().reason;
  }
  // The late answer to the old incarnation's call is dropped, not delivered.
  ASSERT_EQ(gate.waiting.size(), 1u);
  gate.waiting[0].resolve(7);
  vat.run_until_idle();
  EXPECT_EQ(waiting.error().kind, ErrorKind::disconnected);
  EXPECT_EQ(wait(w.send<&Worker::inc>()), 1);  // retry reaches the new incarnation
}

TEST_F(Fixture, AnExceptionInASupervisedCoroutineAfterAnAwaitIsACrash) {
  auto sup = make_sup({.name = "root"});
  Ref<Worker> w = start_child<Worker>(sup, spec("w"));
  wait(w.send<&Worker::inc>());
  auto p = w.send<&Worker::slow_then_boom>();
  vat.run_until_idle();
  gate.waiting.at(0).resolve(1);
  vat.run_until_idle();
  ASSERT_TRUE(p.is_broken());
  EXPECT_EQ(p.error().reason, "late boom");
  EXPECT_EQ(wait(w.send<&Worker::get>()), 0);
  EXPECT_EQ(starts["w"], 2);
}

TEST_F(Fixture, AHelperTaskTheMethodCatchesIsNotACrash) {
  auto sup = make_sup({.name = "root"});
  Ref<Worker> w = start_child<Worker>(sup, spec("w"));
  EXPECT_EQ(wait(w.send<&Worker::catches_helper>()), 1);
  EXPECT_EQ(wait(w.send<&Worker::catches_helper>()), 2);
  EXPECT_EQ(starts["w"], 1);
}

TEST_F(Fixture, CrashOnUnexpectedTreatsVatErrorsAsAnswers) {
  auto sup = make_sup({.name = "root"});
  ChildSpec s = spec("w");
  s.crash_on = CrashOn::unexpected;
  Ref<Worker> w = start_child<Worker>(sup, s);
  wait(w.send<&Worker::inc>());
  EXPECT_EQ(broken(w.send<&Worker::refuse>()).reason, "refused: not now");
  EXPECT_EQ(wait(w.send<&Worker::get>()), 1);  // same incarnation
  EXPECT_EQ(broken(w.send<&Worker::die>("on purpose")).reason, "on purpose");
  EXPECT_EQ(wait(w.send<&Worker::get>()), 0);  // crash() always crashes
}

TEST_F(Fixture, WithoutSupervisionAnExceptionOnlyBreaksThatCall) {
  int n = 0;
  Ref<Worker> w = vat.make<Worker>(&n, &gate);
  wait(w.send<&Worker::inc>());
  broken(w.send<&Worker::boom>());
  EXPECT_EQ(wait(w.send<&Worker::get>()), 1);
}

TEST_F(Fixture, TemporaryChildrenAreNotRestartedAndTheirReferencesBreakForGood) {
  auto sup = make_sup({.name = "root"});
  Ref<Worker> w = start_child<Worker>(sup, spec("t", Restart::temporary));
  broken(w.send<&Worker::boom>());
  Error e = broken(w.send<&Worker::inc>());
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
  EXPECT_NE(e.reason.find("not restarted"), std::string::npos) << e.reason;
  EXPECT_EQ(w.kind(), RefKind::broken);
  EXPECT_EQ(starts["t"], 1);
  EXPECT_TRUE(sup.call<&Supervisor::which_children>().empty());
}

TEST_F(Fixture, TransientChildrenRestartAfterACrashButNotAfterFinishing) {
  auto sup = make_sup({.name = "root"});
  Ref<Worker> w = start_child<Worker>(sup, spec("tr", Restart::transient));
  broken(w.send<&Worker::boom>());
  EXPECT_EQ(wait(w.send<&Worker::inc>()), 1);
  wait(w.send<&Worker::done>());
  vat.run_until_idle();
  EXPECT_EQ(broken(w.send<&Worker::inc>()).kind, ErrorKind::disconnected);
  EXPECT_EQ(starts["tr"], 2);
  EXPECT_EQ(sup.call<&Supervisor::which_children>().at(0).state, "stopped");
}

TEST_F(Fixture, PermanentChildrenRestartEvenAfterFinishing) {
  auto sup = make_sup({.name = "root"});
  Ref<Worker> w = start_child<Worker>(sup, spec("p"));
  wait(w.send<&Worker::inc>());
  wait(w.send<&Worker::done>());
  vat.run_until_idle();
  EXPECT_EQ(wait(w.send<&Worker::get>()), 0);
  EXPECT_EQ(starts["p"], 2);
}

TEST_F(Fixture, OneForAllRestartsEverySibling) {
  auto sup = make_sup({.name = "all", .strategy = Strategy::one_for_all});
  auto a = start_child<Worker>(sup, spec("a"));
  auto b = start_child<Worker>(sup, spec("b"));
  auto c = start_child<Worker>(sup, spec("c"));
  for (auto* r : {&a, &b, &c}) wait(r->send<&Worker::inc>());
  broken(b.send<&Worker::boom>());
  for (auto* r : {&a, &b, &c}) EXPECT_EQ(wait(r->send<&Worker::get>()), 0);
  EXPECT_EQ(starts["a"], 2);
  EXPECT_EQ(starts["b"], 2);
  EXPECT_EQ(starts["c"], 2);
}

TEST_F(Fixture, RestForOneRestartsTheChildAndThoseStartedAfterIt) {
  auto sup = make_sup({.name = "rest", .strategy = Strategy::rest_for_one});
  auto a = start_child<Worker>(sup, spec("a"));
  auto b = start_child<Worker>(sup, spec("b"));
  auto c = start_child<Worker>(sup, spec("c"));
  for (auto* r : {&a, &b, &c}) wait(r->send<&Worker::inc>());
  auto in_flight_c = c.send<&Worker::slow>();
  vat.run_until_idle();
  broken(b.send<&Worker::boom>());
  EXPECT_EQ(wait(a.send<&Worker::get>()), 1);
  EXPECT_EQ(wait(b.send<&Worker::get>()), 0);
  EXPECT_EQ(wait(c.send<&Worker::get>()), 0);
  ASSERT_TRUE(in_flight_c.is_broken());
  EXPECT_NE(in_flight_c.error().reason.find("sibling b"), std::string::npos) << in_flight_c.error().reason;
  EXPECT_EQ(starts["a"], 1);
}

TEST_F(Fixture, MoreRestartsThanTheIntensityStopsEverythingAndFiresTheMonitor) {
  auto sup = make_sup({.name = "root", .intensity = 2, .period = 10s});
  auto w = start_child<Worker>(sup, spec("w"));
  auto other = start_child<Worker>(sup, spec("x"));
  Promise<Error> gone = monitor(sup);
  vat.run_until_idle();
  for (int i = 0; i < 2; ++i) broken(w.send<&Worker::boom>());
  EXPECT_EQ(wait(w.send<&Worker::inc>()), 1);
  EXPECT_TRUE(gone.pending());
  broken(w.send<&Worker::boom>());
  ASSERT_FALSE(gone.pending());
  EXPECT_NE(gone.value().reason.find("gave up"), std::string::npos) << gone.value().reason;
  EXPECT_EQ(broken(other.send<&Worker::inc>()).kind, ErrorKind::disconnected);
  EXPECT_EQ(sup.call<&Supervisor::state>(), "failed");
}

TEST_F(Fixture, RestartsOutsideThePeriodDoNotAccumulate) {
  auto sup = make_sup({.name = "root", .intensity = 1, .period = 1s});
  auto w = start_child<Worker>(sup, spec("w"));
  for (int i = 0; i < 5; ++i) {
    broken(w.send<&Worker::boom>());
    clock.advance(2s);
  }
  EXPECT_EQ(wait(w.send<&Worker::inc>()), 1);
  EXPECT_EQ(sup.call<&Supervisor::restarts>(), 5);
}

TEST_F(Fixture, EscalationClimbsAThreeLevelTree) {
  auto root = make_sup({.name = "root", .intensity = 1, .period = 10s});
  Ref<Supervisor> mid =
      start_child<Supervisor>(root, {.id = "mid", .start = [this] {
                                       auto m = make_sup({.name = "mid", .intensity = 1, .period = 10s});
                                       start_child<Supervisor>(m, {.id = "low", .start = [this] {
                                                                     auto l = make_sup({.name = "low", .intensity = 0});
                                                                     start_child<Worker>(l, spec("leaf"));
                                                                     return l;
                                                                   }});
                                       return m;
                                     }});
  auto leaf_of = [&] {
    auto low = child_ref<Supervisor>(mid, "low");
    return child_ref<Worker>(low, "leaf");
  };
  Promise<Error> root_gone = monitor(root);
  // Leaf crash 1: low (intensity 0) gives up; mid restarts low with a fresh leaf.
  broken(leaf_of().send<&Worker::boom>());
  EXPECT_EQ(wait(leaf_of().send<&Worker::inc>()), 1);
  EXPECT_EQ(starts["leaf"], 2);
  // Crash 2: low gives up again; mid exceeds its intensity and gives up; root restarts mid.
  broken(leaf_of().send<&Worker::boom>());
  EXPECT_EQ(wait(leaf_of().send<&Worker::inc>()), 1);
  EXPECT_EQ(starts["leaf"], 3);
  EXPECT_TRUE(root_gone.pending());
  // The tree shows the new incarnations.
  Value tree = supervision_tree(vat);
  ASSERT_EQ(tree.as_list().size(), 1u);
  EXPECT_EQ(tree.as_list()[0].as_record().find("name")->as_text(), "root");
  // Crash 3 and 4: mid gives up once more inside root's period: root gives up.
  broken(leaf_of().send<&Worker::boom>());
  broken(leaf_of().send<&Worker::boom>());
  vat.run_until_idle();
  ASSERT_FALSE(root_gone.pending());
  EXPECT_NE(root_gone.value().reason.find("root gave up"), std::string::npos) << root_gone.value().reason;
  EXPECT_EQ(mid.kind(), RefKind::broken);
  // The crash log holds each level's crash, oldest first.
  Value log = crash_log(vat);
  const List& crashes = log.as_list();
  ASSERT_GE(crashes.size(), 6u);
  EXPECT_EQ(crashes[0].as_record().find("child")->as_text(), "leaf");
  EXPECT_EQ(crashes[0].as_record().find("exception")->as_text(), "std::runtime_error");
  EXPECT_EQ(crashes[1].as_record().find("child")->as_text(), "low");
}

TEST_F(Fixture, BackoffPausesRestartsInsteadOfEscalating) {
  auto sup = make_sup({.name = "root", .intensity = 1, .period = 10s, .backoff = 100ms});
  auto w = start_child<Worker>(sup, spec("w"));
  broken(w.send<&Worker::boom>());
  broken(w.send<&Worker::boom>());  // over the intensity: back off
  EXPECT_EQ(sup.call<&Supervisor::state>(), "backoff");
  auto later = w.send<&Worker::inc>();  // waits in the slot
  vat.run_until_idle();
  EXPECT_TRUE(later.pending());
  clock.advance(150ms);
  vat.run_until_idle();
  ASSERT_TRUE(later.ready());
  EXPECT_EQ(later.value(), 1);
  EXPECT_EQ(sup.call<&Supervisor::state>(), "running");
}

TEST_F(Fixture, SimpleOneForOneSpawnsRestartsAndTerminatesDynamicChildren) {
  auto sup = make_sup({.name = "pool",
                       .strategy = Strategy::simple_one_for_one,
                       .child_template = {.id = "conn", .restart = Restart::transient}});
  auto a = spawn<Worker>(sup, [this] { return vat.make<Worker>(&starts["a"], &gate); });
  auto b = spawn<Worker>(sup, [this] { return vat.make<Worker>(&starts["b"], &gate); });
  wait(a.send<&Worker::inc>());
  wait(b.send<&Worker::inc>());
  broken(a.send<&Worker::boom>());
  EXPECT_EQ(wait(a.send<&Worker::get>()), 0);
  EXPECT_EQ(wait(b.send<&Worker::get>()), 1);  // one_for_one among dynamic children
  auto kids = sup.call<&Supervisor::which_children>();
  ASSERT_EQ(kids.size(), 2u);
  EXPECT_EQ(kids[0].id, "conn-1");
  wait(sup.send<&Supervisor::terminate_child>(std::string("conn-2")));
  EXPECT_EQ(broken(b.send<&Worker::get>()).kind, ErrorKind::disconnected);
  EXPECT_EQ(sup.call<&Supervisor::which_children>().size(), 1u);
}

class Careful : public Object, public Graceful {
 public:
  Careful(bool* stopped, bool never) : stopped_(stopped), never_(never) {}
  std::int64_t ping() { return 1; }
  Promise<void> shutdown() override {
    if (never_) {  // never finishes: cut off at the deadline
      auto [p, r] = make_promise<void>();
      hold_ = std::move(r);
      return p;
    }
    *stopped_ = true;
    return Promise<void>::resolved();
  }
  VATIC_METHODS(Careful, ping)

 private:
  bool* stopped_;
  bool never_;
  Resolver<void> hold_;
};

TEST_F(Fixture, TerminateAsksAGracefulChildToStopWithinItsDeadline) {
  auto sup = make_sup({.name = "root"});
  bool stopped = false, unused = false;
  auto polite =
      start_child<Careful>(sup, {.id = "polite", .start = [&] { return vat.make<Careful>(&stopped, false); }});
  auto stuck = start_child<Careful>(
      sup, {.id = "stuck", .start = [&] { return vat.make<Careful>(&unused, true); }, .shutdown = 50ms});
  wait(sup.send<&Supervisor::terminate_child>(std::string("polite")));
  EXPECT_TRUE(stopped);
  auto t = sup.send<&Supervisor::terminate_child>(std::string("stuck"));
  vat.run_until_idle();
  EXPECT_TRUE(t.pending());  // waiting for the child
  clock.advance(60ms);
  vat.run_until_idle();
  EXPECT_TRUE(t.ready());
  vat.run_until_idle();
  auto p = stuck.send<&Careful::ping>();
  vat.run_until_idle();
  EXPECT_TRUE(p.is_broken());
}

TEST_F(Fixture, AStartFunctionThatFailsRefusesTheChild) {
  auto sup = make_sup({.name = "root"});
  EXPECT_THROW(
      start_child<Worker>(sup, {.id = "bad", .start = []() -> Ref<Object> { throw std::runtime_error("no"); }}),
      std::runtime_error);
  EXPECT_TRUE(sup.call<&Supervisor::which_children>().empty());
  start_child<Worker>(sup, spec("w"));
  EXPECT_THROW(start_child<Worker>(sup, spec("w")), VatError);  // duplicate id
}

TEST_F(Fixture, CrashAndFinishOutsideAChildAreRefused) {
  EXPECT_THROW(crash("x"), std::logic_error);
  EXPECT_THROW(finish(), std::logic_error);
}

}  // namespace
}  // namespace vatic
