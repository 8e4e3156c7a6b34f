// E-order across promise resolution between two vats (spec/captp.md 5,
// "Embargo"): calls sent on one reference reach the final target in the order
// sent, whether they went along the promised path (through the peer) or,
// after the resolution arrived, straight to it. Each scenario is replayed
// under every schedule of the two loops between the sender's steps, so that
// each race window (a return, resolve or reflected call read before or after
// another) is hit by some schedule, not by timing.
//
//   a (Node, test thread) --memory pipe-- b (Node, Reflector bootstrap, test thread)
#include "captp/internal/session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

// a's object that b asks for a promise (the receiverAnswer case).
class Giver : public Object {
 public:
  Promise<Ref<Echo>> later() {
    auto [p, r] = make_promise<Ref<Echo>>();
    later_ = std::move(r);
    asked_ = true;
    return p;
  }
  bool asked() const { return asked_; }
  void resolve_later(Ref<Echo> to) { later_.resolve(std::move(to)); }
  // Answers when release() is called: keeps one call of the peer unanswered.
  Promise<std::int64_t> wait() {
    auto [p, r] = make_promise<std::int64_t>();
    waiting_ = std::move(r);
    return p;
  }
  bool waited() const { return waiting_.pending(); }
  void release() { waiting_.resolve(0); }

  VATIC_METHODS(Giver, later, asked, resolve_later, wait, waited, release)

 private:
  bool asked_ = false;
  Resolver<Ref<Echo>> later_;
  Resolver<std::int64_t> waiting_;
};

// b's bootstrap: hands values back, holds a promise of its own, and owns the
// Echo that the calls under test should reach in order.
class Reflector : public Object {
 public:
  Ref<Echo> target() {
    if (!target_) target_ = vat().make<Echo>(1);
    return target_;
  }
  // Answers with its argument: a promise of the caller comes home as
  // receiverHosted (or receiverAnswer), the Tribble race's return.
  Value back(Value v) { return v; }
  // A record holding a pending promise of b's (a senderPromise for the caller).
  Value pending() {
    auto [p, r] = make_promise<Value>();
    later_ = std::move(r);
    Record rec;
    rec.label = "pending";
    rec.fields.emplace_back("p", to_value(p));
    return Value(std::move(rec));
  }
  // Resolves the promise of pending() to `to` (whatever reference it is).
  void settle(Value to) { later_.resolve(std::move(to)); }
  // Asks `g` for a promise (g.later()), which the caller of relay() receives
  // while still pending as receiverAnswer: an answer it is computing itself.
  void ask(Ref<Giver> g) { asked_ = g.send<&Giver::later>(); }
  void wait_on(Ref<Giver> g) { waiting_ = g.send<&Giver::wait>(); }
  Value relay() {
    Record rec;
    rec.label = "relay";
    rec.fields.emplace_back("p", to_value(asked_));
    return Value(std::move(rec));
  }

  VATIC_METHODS(Reflector, target, back, pending, settle, ask, wait_on, relay)

 private:
  Ref<Echo> target_;
  Resolver<Value> later_;
  Promise<Ref<Echo>> asked_;
  Promise<std::int64_t> waiting_;
};

Ref<Reflector> connect(TwoVats& t) {
  t.b->set_bootstrap(t.vb.make<Reflector>());
  auto [ea, eb] = captp::memory_pipe(t.va.io(), t.vb.io());
  t.b->accept(std::move(eb));
  return t.a->connect<Reflector>(t.b->id(), std::move(ea));
}

// A reference that sends through the promise itself (pipelining on the whole
// answer rather than on a field of it).
Ref<Echo> through(const Promise<Value>& p) { return detail::ref_from_handler<Echo>(p.state()); }

// What runs between two of the sender's steps.
enum class Run { none, a, b, ab, ba };
constexpr Run kRuns[] = {Run::none, Run::a, Run::b, Run::ab, Run::ba};

void run(TwoVats& t, Run r) {
  switch (r) {
    case Run::none: return;
    case Run::a: t.va.run_until_idle(); return;
    case Run::b: t.vb.run_until_idle(); return;
    case Run::ab:
      t.va.run_until_idle();
      t.vb.run_until_idle();
      return;
    case Run::ba:
      t.vb.run_until_idle();
      t.va.run_until_idle();
      return;
  }
}

const char* name(Run r) {
  switch (r) {
    case Run::none: return "-";
    case Run::a: return "a";
    case Run::b: return "b";
    case Run::ab: return "ab";
    case Run::ba: return "ba";
  }
  return "?";
}

// One scenario: four steps of the sender (send the call that makes the
// promise; send m1 through it; resolve; send m2 through it), with the middle
// two in either order. `seen` runs once both loops are quiet and returns what
// the target saw, m1 (1) then m2 (2) if E-order held.
struct Scenario {
  std::function<void()> make, m1, settle, m2;
  std::function<std::vector<std::int64_t>(TwoVats&)> seen;
};

// Replays `build()` under every schedule: which loops run after each of the
// first three steps, and m1 before or after the resolution.
void for_every_schedule(const std::function<Scenario(TwoVats&)>& build) {
  int failures = 0;
  for (bool settle_first : {false, true}) {
    for (Run g0 : kRuns) {
      for (Run g1 : kRuns) {
        for (Run g2 : kRuns) {
          TwoVats t;
          Scenario s = build(t);
          std::function<void()> steps[] = {s.make, settle_first ? s.settle : s.m1, settle_first ? s.m1 : s.settle,
                                           s.m2};
          steps[0]();
          run(t, g0);
          steps[1]();
          run(t, g1);
          steps[2]();
          run(t, g2);
          steps[3]();
          t.drain();
          std::string what;
          try {
            std::vector<std::int64_t> seen = s.seen(t);
            if (seen != std::vector<std::int64_t>{1, 2}) what = "the target saw " + ::testing::PrintToString(seen);
          } catch (const VatError& e) {
            what = to_string(e.error());  // a call broke (an embargo that let go of its calls)
          }
          if (!what.empty() && ++failures <= 5) {
            ADD_FAILURE() << "schedule " << (settle_first ? "make,settle,m1,m2" : "make,m1,settle,m2") << " runs "
                          << name(g0) << " " << name(g1) << " " << name(g2) << ": " << what;
          }
          ASSERT_EQ(t.a->sessions().size(), 1u) << "the session ended";
        }
      }
    }
  }
  EXPECT_EQ(failures, 0) << "schedules that broke E-order";
}

// The state a scenario keeps between its steps.
struct Held {
  Ref<Reflector> b;
  Ref<Echo> target;  // b's Echo, as a's import
  Ref<Echo> mine;    // a's own Echo
  Promise<Ref<Echo>> p;
  Resolver<Ref<Echo>> resolve_p;
  Ref<Giver> giver;  // a's, for the receiverAnswer case
  Promise<Value> q;
  Promise<void> aux;
  Ref<Echo> via;  // the reference the two calls go through
  Promise<std::int64_t> o1, o2;
};

std::shared_ptr<Held> prepare(TwoVats& t) {
  auto h = std::make_shared<Held>();
  h->b = connect(t);
  h->target = t.get(h->b.send<&Reflector::target>());
  h->mine = t.va.make<Echo>(0);
  h->giver = t.va.make<Giver>();
  auto made = t.va.submit([] { return make_promise<Ref<Echo>>(); });
  t.va.run_until_idle();
  std::tie(h->p, h->resolve_p) = made.get();
  return h;
}

std::vector<std::int64_t> target_seen(TwoVats& t, Held& h) {
  t.get(h.o1);
  t.get(h.o2);
  return t.get(h.target.send<&Echo::seen>());
}

// issue 13, bug 1, as reported: a sends q = b.back(p) for its own pending
// promise p and m1 on q, then resolves p to b's object. b answers q with
// receiverHosted(p) and reflects m1 to a while its import of p is pending.
// a reads the answer (a local promise that forwards back to b) before the
// reflected m1: m2 sent straight to b overtook m1, which still had two hops
// to go. The answer must embargo m2 until the loopback returns.
TEST(EOrder, TribbleFourWayRace) {
  for_every_schedule([](TwoVats& t) {
    auto h = prepare(t);
    Scenario s;
    s.make = [h] {
      h->q = h->b.send<&Reflector::back>(to_value(h->p));
      h->via = through(h->q);
    };
    s.m1 = [h] { h->o1 = h->via.send<&Echo::order>(1); };
    s.settle = [h] { h->resolve_p.resolve(h->target); };
    s.m2 = [h] { h->o2 = h->via.send<&Echo::order>(2); };
    s.seen = [h](TwoVats& tv) { return target_seen(tv, *h); };
    return s;
  });
}

// The same race through a resolve instead of a return: a holds b's promise X
// (an imported RemotePromise) and sends m1 to it; b resolves X to a's promise
// p (receiverHosted), which a resolves to b's object. A resolved RemotePromise
// used to deliver m2 straight to its resolution (p, hence b) while m1 was
// still on its way b -> a -> b.
TEST(EOrder, ResolvedRemotePromiseKeepsOrderWithCallsSentBeforeTheResolve) {
  for_every_schedule([](TwoVats& t) {
    auto h = prepare(t);
    Value rec = t.get(h->b.send<&Reflector::pending>());
    h->via = from_value<Ref<Echo>>(*rec.as_record().find("p"));
    Scenario s;
    s.make = [h] {
      // b resolves X to a's pending promise p.
      h->aux = h->b.send<&Reflector::settle>(to_value(h->p));
    };
    s.m1 = [h] { h->o1 = h->via.send<&Echo::order>(1); };
    s.settle = [h] { h->resolve_p.resolve(h->target); };
    s.m2 = [h] { h->o2 = h->via.send<&Echo::order>(2); };
    s.seen = [h](TwoVats& tv) { return target_seen(tv, *h); };
    return s;
  });
}

// The receiverAnswer form: b answers with its own pending question to a's
// Giver (g.later(), asked beforehand), which a is answering itself; a resolves
// that answer to b's object. The field of the answer a pipelined m1 on settles to a local
// promise forwarding back to b: m2 must wait for the loopback too.
TEST(EOrder, TribbleRaceThroughAReceiverAnswer) {
  for_every_schedule([](TwoVats& t) {
    auto h = prepare(t);
    t.get(h->b.send<&Reflector::ask>(h->giver));
    EXPECT_TRUE(t.run_until([&] { return h->giver.call<&Giver::asked>(); }));
    Scenario s;
    s.make = [h] {
      h->q = h->b.send<&Reflector::relay>();
      h->via = field<Echo>(h->q, "p");
    };
    s.m1 = [h] { h->o1 = h->via.send<&Echo::order>(1); };
    s.settle = [h] { h->giver.call<&Giver::resolve_later>(h->target); };
    s.m2 = [h] { h->o2 = h->via.send<&Echo::order>(2); };
    s.seen = [h](TwoVats& tv) { return target_seen(tv, *h); };
    return s;
  });
}

// A promise that settles to another pending promise of the same session is
// shortened at once, and the calls sent on it travel on into that promise in
// the peer. When that promise then settles to a's own object, it must embargo
// for them although nothing was sent to it directly (Cap'n Proto's merge of
// promise clients).
TEST(EOrder, PromiseResolvedToAPendingPromiseEmbargoesForCallsSentBeforeIt) {
  for_every_schedule([](TwoVats& t) {
    auto h = prepare(t);
    Scenario s;
    s.make = [h] {
      h->q = h->b.send<&Reflector::pending>();
      h->via = field<Echo>(h->q, "p");
    };
    s.m1 = [h] { h->o1 = h->via.send<&Echo::order>(1); };
    s.settle = [h] { h->b.send<&Reflector::settle>(to_value(h->mine)); };
    s.m2 = [h] { h->o2 = h->via.send<&Echo::order>(2); };
    s.seen = [h](TwoVats& tv) {
      tv.get(h->o1);
      tv.get(h->o2);
      return h->mine.call<&Echo::seen>();
    };
    return s;
  });
}

// The Tribble race while a has max_answers of b's calls unanswered (flow
// control, spec/captp.md 7): calls past it are still delivered when read (a
// held call once let m2, sent straight to b's object after the disembargo
// reply, overtake m1 and m1'), so the order holds: m1, m1' (sent through the
// answer after b learned of p's resolution), then m2.
TEST(EOrder, TribbleRaceWhileTheCallerHasMaxAnswersUnanswered) {
  captp::NodeOptions oa;
  oa.session.max_answers = 1;
  TwoVats t(oa, {}, nullptr);
  auto h = prepare(t);
  // One call of b's stays unanswered at a: the flow-control bound is reached.
  t.get(h->b.send<&Reflector::wait_on>(h->giver));
  ASSERT_TRUE(t.run_until([&] { return h->giver.call<&Giver::waited>(); }));

  h->q = h->b.send<&Reflector::back>(to_value(h->p));
  h->via = through(h->q);
  h->o1 = h->via.send<&Echo::order>(1);
  t.va.run_until_idle();  // the call and m1 leave a
  h->resolve_p.resolve(h->target);
  Promise<std::int64_t> o1b = h->via.send<&Echo::order>(11);  // m1'
  // b answers receiverHosted(p) and reflects m1 to a.
  t.vb.run_until_idle();
  // a forwards m1 and reads the answer: an embargo.
  t.va.run_until_idle();
  // b reads p's resolve (an embargo holding m1' next) and a's disembargo.
  t.vb.run_until_idle();
  h->o2 = h->via.send<&Echo::order>(2);
  t.drain();
  h->giver.call<&Giver::release>();
  t.drain();
  t.get(o1b);
  std::vector<std::int64_t> want{1, 11, 2};
  EXPECT_EQ(target_seen(t, *h), want);
}

// a's own embargo lifts while a holds b's calls back (flow control, spec/captp.md
// 7): a sends q = b.back(mine) for its own object and m1 on q; b answers
// receiverHosted(mine) and reflects m1 to a, where flow control holds it; a
// reads the answer (an embargo) and b's loopback. The loopback says m1 has
// arrived, not that it was delivered: lifting at once let m2, held by the
// embargo, reach a's object before m1 (sim seed 1631, through a third vat).
// Waiting for a free slot instead could wait for ever (sim seed 401: the
// answers that would free it waited on calls the embargo held), so the lift
// delivers the held calls first.
TEST(EOrder, EmbargoLiftsOnlyAfterTheCallsFlowControlHeldBeforeTheLoopback) {
  captp::NodeOptions oa;
  oa.session.max_answers = 1;
  TwoVats t(oa, {}, nullptr);
  auto h = prepare(t);
  // One call of b's stays unanswered at a: a holds b's further calls.
  t.get(h->b.send<&Reflector::wait_on>(h->giver));
  ASSERT_TRUE(t.run_until([&] { return h->giver.call<&Giver::waited>(); }));

  h->q = h->b.send<&Reflector::back>(to_value(h->mine));
  h->via = through(h->q);
  h->o1 = h->via.send<&Echo::order>(1);
  t.va.run_until_idle();  // the call and m1 leave a
  t.vb.run_until_idle();  // b answers receiverHosted(mine) and reflects m1
  t.va.run_until_idle();  // a holds m1 back and reads the answer: an embargo
  EXPECT_TRUE(h->o1.pending()) << "flow control did not hold m1";
  h->o2 = h->via.send<&Echo::order>(2);
  // b reflects the disembargo; a reads the loopback (its embargo leaves the table).
  ASSERT_EQ(t.a->sessions()[0].stats.embargoes, 1u);
  ASSERT_TRUE(t.run_until([&] { return t.a->sessions()[0].stats.embargoes == 0; }));
  t.drain();
  EXPECT_TRUE(h->giver.call<&Giver::waited>()) << "b's first call was answered: nothing was held";
  EXPECT_EQ(h->mine.call<&Echo::seen>(), (std::vector<std::int64_t>{1, 2}));
  t.get(h->o1);
  t.get(h->o2);
  h->giver.call<&Giver::release>();
  t.drain();
  EXPECT_EQ(t.a->sessions().size(), 1u) << "the session ended";
}

}  // namespace
}  // namespace vatic::test
