// Cancellation over CapTP (spec/captp.md "finish", vat/cancel.h): a caller
// that drops every interest in an answer finishes the question early, and
// the callee's method sees its call cancelled; a call pipelined on an answer
// keeps that answer wanted.
//
//   vat a (caller, sweeps every 10 ms of a ManualClock) --memory pipe--> vat b (Worker)
#include "vat/cancel.h"

#include <gtest/gtest.h>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

using namespace std::chrono_literals;

class Worker : public Object {
 public:
  // Waits for open(), then has its effect unless its call was cancelled.
  Task<std::int64_t> work() {
    co_await gate();
    if (cancelled()) {
      ++stops_;
      co_return -1;
    }
    ++effects_;
    co_return 1;
  }
  // As work(), answering a reference to pipeline on.
  Task<Ref<Worker>> work_ref() {
    co_await gate();
    if (cancelled()) ++stops_;
    throw_if_cancelled();
    ++effects_;
    co_return vat().make<Worker>();
  }
  bool plain() {
    if (cancelled()) {
      ++stops_;
      return false;
    }
    ++effects_;
    return true;
  }
  void open() {
    auto gates = std::move(gates_);
    for (auto& r : gates) r.resolve();
  }
  std::int64_t waiting() const { return static_cast<std::int64_t>(gates_.size()); }
  std::int64_t effects() const { return effects_; }
  std::int64_t stops() const { return stops_; }
  std::int64_t echo(std::int64_t x) { return x; }
  VATIC_METHODS(Worker, work, work_ref, plain, open, waiting, effects, stops, echo)

 private:
  Promise<void> gate() {
    auto [p, r] = make_promise<void>();
    gates_.push_back(std::move(r));
    return p;
  }
  std::vector<Resolver<void>> gates_;
  std::int64_t effects_ = 0, stops_ = 0;
};

// Answers a promise it resolves when told to: calls pipelined on the answer
// wait in this vat, and go where it resolves (forwarded, if that is a
// reference of another vat).
class Relay : public Object {
 public:
  Promise<Ref<Worker>> later() {
    auto [p, r] = make_promise<Ref<Worker>>();
    later_.push_back(std::move(r));
    return p;
  }
  void resolve_later(Ref<Worker> to) {
    auto later = std::move(later_);
    for (auto& r : later) r.resolve(to);
  }
  VATIC_METHODS(Relay, later, resolve_later)

 private:
  std::vector<Resolver<Ref<Worker>>> later_;
};

struct WithClock {
  ManualClock clock;
};

struct CancelPair : WithClock, TwoVats {
  CancelPair() : TwoVats(options(), options(), &clock) {
    b->set_bootstrap(vb.make<Worker>());
    auto [ea, eb] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(eb));
    worker = a->connect<Worker>(b->id(), std::move(ea));
  }
  ~CancelPair() {
    worker = {};
    a.reset();
    b.reset();
    drain();
  }
  static captp::NodeOptions options() {
    captp::NodeOptions o;
    o.session.cancel_sweep = 10ms;
    return o;
  }
  // Lets a few cancellation sweeps run on both sides.
  void sweep() {
    for (int i = 0; i < 3; ++i) {
      clock.advance(10ms);
      drain();
    }
  }
  std::size_t answers() { return b->sessions().at(0).stats.answers; }
  Ref<Worker> worker;
};

TEST(CancelOverCaptp, BothSidesNegotiateCancel) {
  CancelPair t;
  ASSERT_EQ(t.get(t.worker.send<&Worker::echo>(3)), 3);
  EXPECT_EQ(t.a->sessions().at(0).features, (std::vector<std::string>{"cancel", "handoff"}));
  EXPECT_EQ(t.b->sessions().at(0).features, (std::vector<std::string>{"cancel", "handoff"}));
}

TEST(CancelOverCaptp, AFinishedCallStopsItsMethodAfterItsAwaitWithoutItsEffect) {
  CancelPair t;
  { auto dropped = t.worker.send<&Worker::work>(); }
  ASSERT_EQ(t.get(t.worker.send<&Worker::waiting>()), 1);
  t.sweep();
  ASSERT_TRUE(t.run_until([&] { return t.answers() == 0; })) << "the finish did not reach b";
  ASSERT_NO_THROW(t.get(t.worker.send<&Worker::open>()));
  EXPECT_EQ(t.get(t.worker.send<&Worker::stops>()), 1);
  EXPECT_EQ(t.get(t.worker.send<&Worker::effects>()), 0) << "the cancelled method had its effect anyway";
}

TEST(CancelOverCaptp, ACallStillWantedIsNotCancelled) {
  CancelPair t;
  Promise<std::int64_t> kept = t.worker.send<&Worker::work>();
  ASSERT_EQ(t.get(t.worker.send<&Worker::waiting>()), 1);
  t.sweep();
  ASSERT_NO_THROW(t.get(t.worker.send<&Worker::open>()));
  EXPECT_EQ(t.get(kept), 1);
  EXPECT_EQ(t.get(t.worker.send<&Worker::stops>()), 0);
}

// A plain method whose call waits on a promise (pipelined on an answer) and
// is finished meanwhile runs later and sees the call cancelled.
TEST(CancelOverCaptp, APlainMethodQueuedOnAnAnswerSeesItsFinishedCallCancelled) {
  CancelPair t;
  Promise<Ref<Worker>> next = t.worker.send<&Worker::work_ref>();
  { auto dropped = next.send<&Worker::plain>(); }
  ASSERT_EQ(t.get(t.worker.send<&Worker::waiting>()), 1);
  t.sweep();
  ASSERT_TRUE(t.run_until([&] { return t.answers() == 1; })) << "only the call on the answer is finished";
  ASSERT_NO_THROW(t.get(t.worker.send<&Worker::open>()));
  Ref<Worker> w2 = t.get(next);
  EXPECT_EQ(t.get(w2.send<&Worker::stops>()), 1);
  EXPECT_EQ(t.get(w2.send<&Worker::effects>()), 0);
}

// Issue 13: the sweep finished a question whose answer a pipelined call
// still waited on (the caller had dropped only the first promise), so the
// callee cancelled the first call and the pipelined one broke.
TEST(CancelOverCaptp, APipelinedCallKeepsTheAnswerItDependsOnFromBeingCancelled) {
  CancelPair t;
  Promise<std::int64_t> second;
  {
    Promise<Ref<Worker>> first = t.worker.send<&Worker::work_ref>();
    second = first.send<&Worker::echo>(5);
  }
  ASSERT_EQ(t.get(t.worker.send<&Worker::waiting>()), 1);
  t.sweep();
  EXPECT_EQ(t.answers(), 2u) << "a question something still depends on was finished";
  ASSERT_NO_THROW(t.get(t.worker.send<&Worker::open>()));
  EXPECT_EQ(t.get(second), 5);
  EXPECT_EQ(t.get(t.worker.send<&Worker::stops>()), 0);
  EXPECT_EQ(t.get(t.worker.send<&Worker::effects>()), 1);
}

// Dropping the whole chain finishes it, from its end, within one sweep.
TEST(CancelOverCaptp, ADroppedPipelinedChainIsFinishedFromItsEnd) {
  CancelPair t;
  {
    Promise<Ref<Worker>> first = t.worker.send<&Worker::work_ref>();
    auto second = first.send<&Worker::echo>(5);
  }
  ASSERT_EQ(t.get(t.worker.send<&Worker::waiting>()), 1);
  t.clock.advance(10ms);
  t.drain();
  ASSERT_TRUE(t.run_until([&] { return t.answers() == 0; })) << "the chain was not finished";
  ASSERT_NO_THROW(t.get(t.worker.send<&Worker::open>()));
  EXPECT_EQ(t.get(t.worker.send<&Worker::stops>()), 1);
  EXPECT_EQ(t.get(t.worker.send<&Worker::effects>()), 0);
  EXPECT_TRUE(t.run_until([&] { return t.a->sessions().at(0).stats.questions == 0; }));
}

// Simulation seed 2243: a call forwarded by the vat it was sent to keeps the
// forwarded question only while its own caller waits. Here the caller (a)
// finishes its pipelined call while it waits in b on a pending promise; the
// promise then resolves to a's Worker, so b forwards the call back to a as a
// question of its own. Nobody wants that answer: b finishes it, and the
// Worker sees its call cancelled. (Before, the return listener of b's
// finished answer still counted as interest: the question and a's answer
// stayed until the Worker returned, forever if it never did.)
TEST(CancelOverCaptp, ACallForwardedAfterItsCallerFinishedItIsFinishedInTurn) {
  WithClock c;
  TwoVats t(CancelPair::options(), CancelPair::options(), &c.clock);
  t.b->set_bootstrap(t.vb.make<Relay>());
  auto [ea, eb] = captp::memory_pipe(t.va.io(), t.vb.io());
  t.b->accept(std::move(eb));
  Ref<Relay> relay = t.a->connect<Relay>(t.b->id(), std::move(ea));
  Ref<Worker> local = t.va.make<Worker>();
  auto stats = [](captp::Node& n) {
    auto sessions = n.sessions();
    return sessions.empty() ? captp::SessionStats{} : sessions.front().stats;
  };
  auto sweep = [&] {
    for (int i = 0; i < 3; ++i) {
      c.clock.advance(10ms);
      t.drain();
    }
  };
  {
    Promise<Ref<Worker>> later = relay.send<&Relay::later>();
    auto dropped = later.send<&Worker::work>();
  }
  ASSERT_TRUE(t.run_until([&] { return stats(*t.b).answers >= 2; }));  // and the bootstrap's, finished lazily
  sweep();
  ASSERT_TRUE(t.run_until([&] { return stats(*t.b).answers == 0; })) << "a did not finish its calls";
  ASSERT_NO_THROW(t.get(relay.send<&Relay::resolve_later>(local)));
  ASSERT_EQ(t.get(local.send<&Worker::waiting>()), 1) << "the call was not forwarded back to a";
  sweep();
  EXPECT_TRUE(t.run_until([&] { return stats(*t.b).questions == 0 && stats(*t.a).answers == 0; }))
      << "b kept the forwarded question nobody waits for";
  ASSERT_NO_THROW(t.get(local.send<&Worker::open>()));
  EXPECT_EQ(t.get(local.send<&Worker::stops>()), 1);
  EXPECT_EQ(t.get(local.send<&Worker::effects>()), 0);
  relay = {};
  local = {};
  t.a.reset();
  t.b.reset();
  t.drain();
}

}  // namespace
}  // namespace vatic::test
