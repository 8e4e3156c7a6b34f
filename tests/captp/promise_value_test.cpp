// Promise<T> as a value over CapTP (spec/captp.md 4, "Promises as values"):
// as an argument, a result and a record field; pending, fulfilled or broken
// when sent; sent again after it settled; resolved into a third vat; and
// forwarded onward. Every vat runs on the test thread, over memory pipes.
//
//   a --pipe-- b          (TwoVats: b's bootstrap is a Taker)
//   a --pipe-- b --pipe-- c, a --pipe-- c   (ThreeVats)
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

// A record with a promise in it.
struct Parcel {
  std::int64_t n = 0;
  Promise<std::int64_t> later;
  VATIC_FIELDS(Parcel, n, later)
};

// Takes and gives promises. Each method that waits on a promise argument
// reports what the callee itself saw, so a decoding failure in the callee is
// told apart from the original outcome.
class Taker : public Object {
 public:
  Task<std::int64_t> value_of(Promise<std::int64_t> p) { co_return co_await p; }
  // "fulfilled <n>" or "<kind>: <reason>", as the callee sees the outcome.
  Task<std::string> outcome_of(Promise<std::int64_t> p) {
    try {
      std::int64_t n = co_await p;
      co_return "fulfilled " + std::to_string(n);
    } catch (const VatError& e) {
      co_return to_string(e.error());
    }
  }
  Task<std::int64_t> depth_through(Promise<Ref<Echo>> p) {
    Ref<Echo> r = co_await p;
    co_return co_await r.send<&Echo::depth>();
  }
  Task<std::int64_t> echo_through(Promise<Ref<Echo>> p, std::int64_t x) {
    Ref<Echo> r = co_await p;
    co_return co_await r.send<&Echo::echo>(x);
  }
  Task<std::int64_t> parcel_sum(Parcel parcel) { co_return parcel.n + co_await parcel.later; }
  Parcel give_back(Parcel p) { return p; }
  // Sends to the promised object without waiting for it (pipelining).
  Promise<std::int64_t> echo_now(Promise<Ref<Echo>> p, std::int64_t x) { return p.send<&Echo::echo>(x); }
  // Takes any value (a promise, say) and lets it go at once.
  void ignore(Value) {}
  // Keeps a promise to be awaited by a later call.
  void keep(Promise<std::int64_t> p) { kept_ = std::move(p); }
  Task<std::int64_t> kept_value() { co_return co_await kept_; }
  // Hands a promise on to another Taker (A -> B -> C).
  Promise<std::int64_t> pass_on(Promise<std::int64_t> p) { return next_.send<&Taker::value_of>(std::move(p)); }
  Promise<std::string> pass_on_outcome(Promise<std::int64_t> p) { return next_.send<&Taker::outcome_of>(std::move(p)); }
  void set_next(Ref<Taker> next) { next_ = std::move(next); }
  // Results: a pending promise (settled by settle()), a settled or a broken one.
  Promise<std::int64_t> pending() {
    auto [p, r] = make_promise<std::int64_t>();
    resolver_ = std::move(r);
    return p;
  }
  void settle(std::int64_t n) { resolver_.resolve(n); }
  Promise<std::int64_t> settled(std::int64_t n) { return Promise<std::int64_t>::resolved(n); }
  Promise<std::int64_t> broken() {
    auto [p, r] = make_promise<std::int64_t>();
    r.reject(Error{ErrorKind::overloaded, "too busy to answer"});
    return p;
  }
  Parcel parcel(std::int64_t n) { return Parcel{n, Promise<std::int64_t>::resolved(n * 10)}; }
  // The bootstrap of a third vat hands out its echo.
  Ref<Echo> echo() {
    if (!echo_) echo_ = vat().make<Echo>(33);
    return echo_;
  }

  VATIC_METHODS(Taker, value_of, outcome_of, depth_through, echo_through, parcel_sum, give_back, echo_now, ignore, keep,
                kept_value, pass_on, pass_on_outcome, set_next, pending, settle, settled, broken, parcel, echo)

 private:
  Promise<std::int64_t> kept_;
  Resolver<std::int64_t> resolver_;
  Ref<Echo> echo_;
  Ref<Taker> next_;
};

// A promise and its resolver, made in vat `v` (promises belong to a vat).
template <class T>
std::pair<Promise<T>, Resolver<T>> promise_in(Vat& v) {
  auto made = v.submit([] { return make_promise<T>(); });
  v.run_until_idle();
  return made.get();
}

// A promise made in vat `v`, already fulfilled with `n`.
Promise<std::int64_t> resolved_in(Vat& v, std::int64_t n) {
  auto [p, r] = promise_in<std::int64_t>(v);
  r.resolve(n);
  return p;
}

// Two vats; b's bootstrap is a Taker.
struct Pair : TwoVats {
  Ref<Taker> connect() {
    b->set_bootstrap(vb.make<Taker>());
    auto [ea, eb] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(eb));
    Ref<Taker> t = a->connect<Taker>(b->id(), std::move(ea));
    // Up before the test starts, so that "pending when sent" means it.
    EXPECT_TRUE(run_until([&] { return session_up(); }));
    return t;
  }
  bool session_up() { return a->sessions().size() == 1 && b->sessions().size() == 1; }
};

// Three vats with nodes, each a Taker's home, on one thread.
struct ThreeVats : ThreeVatLoops {
  Ref<Taker> in_b, in_c;  // the bootstrap objects

  ThreeVats() {
    in_b = vb.make<Taker>();
    in_c = vc.make<Taker>();
    b->set_bootstrap(in_b);
    c->set_bootstrap(in_c);
  }
  ~ThreeVats() {
    in_b = {};
    in_c = {};
  }
  // `from` dials `to` over a new pipe; the session is up when this returns.
  Ref<Taker> dial(captp::Node& from, captp::Node& to) {
    auto [e_from, e_to] = captp::memory_pipe(from.vat().io(), to.vat().io());
    to.accept(std::move(e_to));
    std::size_t before = from.sessions().size();
    Ref<Taker> r = from.connect<Taker>(to.id(), std::move(e_from));
    EXPECT_TRUE(run_until([&] { return from.sessions().size() > before; }));
    return r;
  }
  bool run_until(const std::function<bool()>& pred) {
    for (int i = 0; i < 100000 && !pred(); ++i) {
      va.run_until_idle();
      vb.run_until_idle();
      vc.run_until_idle();
    }
    return pred();
  }
  template <class T>
  T get(Promise<T> p) {
    EXPECT_TRUE(run_until([&] { return !p.pending(); })) << "promise did not settle";
    if (p.is_broken()) throw VatError(p.error());
    return p.value();
  }
};

TEST(PromiseValue, PendingArgumentThatResolvesToDataReachesTheCallee) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  Promise<std::int64_t> got = b.send<&Taker::value_of>(p);
  t.drain();
  EXPECT_TRUE(got.pending());
  r.resolve(42);
  EXPECT_EQ(t.get(got), 42);
  EXPECT_TRUE(t.session_up());
}

// b learns the outcome from a's resolve alone: it asks a nothing (no
// __whenResolved call waits in a's answers), and the resolve carries the value.
TEST(PromiseValue, PendingArgumentLearnsItsOutcomeFromTheResolveAlone) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  t.get(b.send<&Taker::keep>(p));
  Promise<std::int64_t> kept = b.send<&Taker::kept_value>();
  t.drain();
  EXPECT_TRUE(kept.pending());
  EXPECT_EQ(t.a->sessions()[0].stats.answers, 0u) << "b asked a for the outcome";
  r.resolve(13);
  EXPECT_EQ(t.get(kept), 13);
}

TEST(PromiseValue, PendingArgumentThatResolvesToAReferenceIsCallable) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<Ref<Echo>>(t.va);
  Promise<std::int64_t> got = b.send<&Taker::echo_through>(p, 9);
  t.drain();
  EXPECT_TRUE(got.pending());
  r.resolve(t.va.make<Echo>(4));
  EXPECT_EQ(t.get(got), 9);
  EXPECT_TRUE(t.session_up());
}

TEST(PromiseValue, PendingArgumentThatBreaksGivesTheCalleeItsOwnError) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  Promise<std::string> got = b.send<&Taker::outcome_of>(p);
  t.drain();
  r.reject(Error{ErrorKind::overloaded, "queue full"});
  EXPECT_EQ(t.get(got), to_string(Error{ErrorKind::overloaded, "queue full"}));
  EXPECT_TRUE(t.session_up());
}

TEST(PromiseValue, AlreadySettledArgumentArrivesSettled) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  r.resolve(7);
  EXPECT_EQ(t.get(b.send<&Taker::outcome_of>(p)), "fulfilled 7");
  EXPECT_EQ(t.get(b.send<&Taker::value_of>(resolved_in(t.va, 8))), 8);
  EXPECT_TRUE(t.session_up());
}

TEST(PromiseValue, AlreadyBrokenArgumentArrivesBrokenWithItsOwnError) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  r.reject(Error{ErrorKind::unimplemented, "no such feature"});
  EXPECT_EQ(t.get(b.send<&Taker::outcome_of>(p)), to_string(Error{ErrorKind::unimplemented, "no such feature"}));
  EXPECT_TRUE(t.session_up());
}

TEST(PromiseValue, PromiseResultsArrivePendingSettledOrBroken) {
  Pair t;
  Ref<Taker> b = t.connect();
  EXPECT_EQ(t.get(b.send<&Taker::settled>(5)), 5);
  Error e = t.error_of(b.send<&Taker::broken>());
  EXPECT_EQ(e.kind, ErrorKind::overloaded);
  EXPECT_EQ(e.reason, "too busy to answer");
  Promise<std::int64_t> later = b.send<&Taker::pending>();
  t.drain();
  EXPECT_TRUE(later.pending());
  b.send<&Taker::settle>(6);
  EXPECT_EQ(t.get(later), 6);
  EXPECT_TRUE(t.session_up());
}

TEST(PromiseValue, PromiseInARecordFieldTravelsBothWays) {
  Pair t;
  Ref<Taker> b = t.connect();
  Parcel back = t.get(b.send<&Taker::parcel>(3));
  EXPECT_EQ(back.n, 3);
  EXPECT_EQ(t.get(back.later), 30);
  auto [p, r] = promise_in<std::int64_t>(t.va);
  Promise<std::int64_t> sum = b.send<&Taker::parcel_sum>(Parcel{2, p});
  t.drain();
  r.resolve(40);
  EXPECT_EQ(t.get(sum), 42);
  auto [q, s] = promise_in<std::int64_t>(t.va);
  s.reject(Error{ErrorKind::failed, "field broke"});
  Error e = t.error_of(b.send<&Taker::parcel_sum>(Parcel{2, q}));
  EXPECT_EQ(e.reason, "field broke");
  EXPECT_TRUE(t.session_up());
}

// Sent pending, then sent again after it settled (while b still holds the
// first copy, and again after b let it go): one promise, one outcome.
TEST(PromiseValue, SamePromiseSentPendingThenSettledKeepsTheSession) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  b.send<&Taker::keep>(p);
  t.drain();
  Promise<std::int64_t> first = b.send<&Taker::value_of>(p);
  t.drain();
  r.resolve(11);
  EXPECT_EQ(t.get(first), 11);
  EXPECT_EQ(t.get(b.send<&Taker::value_of>(p)), 11);  // b still holds the first copy
  EXPECT_EQ(t.get(b.send<&Taker::kept_value>()), 11);
  b.send<&Taker::keep>(resolved_in(t.va, 0));  // b lets the first copy go
  t.drain();
  EXPECT_EQ(t.get(b.send<&Taker::value_of>(p)), 11);
  EXPECT_EQ(t.get(b.send<&Taker::outcome_of>(p)), "fulfilled 11");
  EXPECT_TRUE(t.session_up());
  // Nothing of it is left exported once b is done.
  EXPECT_TRUE(t.run_until([&] { return t.a->sessions()[0].stats.exports == 0; }))
      << t.a->sessions()[0].stats.exports << " exports left";
}

// b lets a's promise go at once; before a reads b's release, a resolves the
// promise and sends it again. The second copy must settle in b: it cannot
// reuse the id whose one resolve b already saw (and ignored as released).
TEST(PromiseValue, PromiseResentWhileItsReleaseIsInFlightStillSettles) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  Promise<void> ignored = b.send<&Taker::ignore>(to_value(p));
  t.va.run_until_idle();  // the call (exporting p) leaves a
  t.vb.run_until_idle();  // b runs it, drops p: its release and the return leave b
  ASSERT_EQ(t.b->sessions()[0].stats.imports, 0u);
  r.resolve(5);  // a resolves p before it reads b's release
  Promise<std::int64_t> again = b.send<&Taker::value_of>(p);
  EXPECT_EQ(t.get(again), 5);
  t.get(ignored);
  EXPECT_TRUE(t.session_up());
  EXPECT_TRUE(t.run_until([&] { return t.a->sessions()[0].stats.exports == 0; }))
      << t.a->sessions()[0].stats.exports << " exports left";
}

// b sends a's pending promise back: a gets its own promise, not a promise of
// b's that follows it.
TEST(PromiseValue, PromiseSentBackToItsSenderIsItsOwn) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  Parcel back = t.get(b.send<&Taker::give_back>(Parcel{1, p}));
  EXPECT_EQ(back.later.state(), p.state());
  r.resolve(3);
  EXPECT_EQ(t.get(back.later), 3);
}

// b sends to a's pending promise of an object before it resolves: the call
// waits in a, on the promise, not in b for the resolve.
TEST(PromiseValue, CallsToAPendingPromiseArgumentArePipelinedToItsSender) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<Ref<Echo>>(t.va);
  Promise<std::int64_t> got = b.send<&Taker::echo_now>(p, 17);
  t.drain();
  EXPECT_EQ(t.a->sessions()[0].stats.answers, 1u) << "the call did not reach a";
  r.resolve(t.va.make<Echo>());
  EXPECT_EQ(t.get(got), 17);
}

// The same settled promise twice in one call, and a broken one sent twice.
TEST(PromiseValue, SettledOrBrokenPromiseSentTwiceArrivesTheSameEachTime) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<std::int64_t>(t.va);
  r.reject(Error{ErrorKind::failed, "twice broken"});
  EXPECT_EQ(t.get(b.send<&Taker::outcome_of>(p)), "failed: twice broken");
  EXPECT_EQ(t.get(b.send<&Taker::outcome_of>(p)), "failed: twice broken");
  auto [q, s] = promise_in<std::int64_t>(t.va);
  s.resolve(2);
  Promise<std::int64_t> sum = b.send<&Taker::parcel_sum>(Parcel{t.get(b.send<&Taker::value_of>(q)), q});
  EXPECT_EQ(t.get(sum), 4);
  EXPECT_TRUE(t.session_up());
}

TEST(PromiseValue, PromiseOfAReferenceResolvedThenCalled) {
  Pair t;
  Ref<Taker> b = t.connect();
  auto [p, r] = promise_in<Ref<Echo>>(t.va);
  r.resolve(t.va.make<Echo>(6));
  EXPECT_EQ(t.get(b.send<&Taker::depth_through>(p)), 6);
  auto [q, s] = promise_in<Ref<Echo>>(t.va);
  Promise<std::int64_t> got = b.send<&Taker::depth_through>(q);
  t.drain();
  s.resolve(t.va.make<Echo>(8));
  EXPECT_EQ(t.get(got), 8);
  EXPECT_TRUE(t.session_up());
}

// a sends b a promise that a resolves to c's object (a third vat).
TEST(PromiseValue, PromiseResolvedToAThirdVatsObjectReachesIt) {
  ThreeVats t;
  Ref<Taker> b = t.dial(*t.a, *t.b);
  Ref<Taker> c = t.dial(*t.a, *t.c);
  Ref<Echo> in_c = t.get(c.send<&Taker::echo>());
  auto [p, r] = promise_in<Ref<Echo>>(t.va);
  Promise<std::int64_t> got = b.send<&Taker::depth_through>(p);
  t.drain();
  EXPECT_TRUE(got.pending());
  r.resolve(in_c);
  EXPECT_EQ(t.get(got), 33);
  // A promise for c's answer, passed on while still pending.
  Promise<Ref<Echo>> pending_in_c = c.send<&Taker::echo>();
  EXPECT_EQ(t.get(b.send<&Taker::echo_through>(pending_in_c, 5)), 5);
  Promise<std::int64_t> number_in_c = c.send<&Taker::settled>(12);
  EXPECT_EQ(t.get(b.send<&Taker::value_of>(number_in_c)), 12);
}

// a sends b a promise; b hands it on to c, which waits on it.
TEST(PromiseValue, PromiseForwardedOnwardSettlesInTheThirdVat) {
  ThreeVats t;
  Ref<Taker> b = t.dial(*t.a, *t.b);
  Ref<Taker> c_from_b = t.dial(*t.b, *t.c);  // b's own session to c
  t.in_b.send<&Taker::set_next>(c_from_b);
  auto [p, r] = promise_in<std::int64_t>(t.va);
  Promise<std::int64_t> got = b.send<&Taker::pass_on>(p);
  t.drain();
  EXPECT_TRUE(got.pending());
  r.resolve(21);
  EXPECT_EQ(t.get(got), 21);
  auto [q, s] = promise_in<std::int64_t>(t.va);
  s.reject(Error{ErrorKind::disconnected, "gone away"});
  EXPECT_EQ(t.get(b.send<&Taker::pass_on_outcome>(q)), "disconnected: gone away");
  auto [u, v] = promise_in<std::int64_t>(t.va);
  v.resolve(3);
  EXPECT_EQ(t.get(b.send<&Taker::pass_on_outcome>(u)), "fulfilled 3");
}

}  // namespace
}  // namespace vatic::test
