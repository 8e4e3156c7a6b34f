#include "vat/promise.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

using test::Counter;
using test::Node;
using test::run_in;

TEST(Promise, ResolvedPromiseHoldsItsValue) {
  Vat vat;
  auto v = run_in(vat, [] {
    auto p = Promise<int>::resolved(4);
    return std::make_tuple(p.valid(), p.pending(), p.ready(), p.is_broken(), p.value());
  });
  EXPECT_EQ(v, std::make_tuple(true, false, true, false, 4));
}

TEST(Promise, DefaultPromiseIsInvalid) { EXPECT_FALSE(Promise<int>().valid()); }

TEST(Promise, BrokenPromiseHoldsItsErrorAndValueThrowsIt) {
  Vat vat;
  auto v = run_in(vat, [] {
    auto p = Promise<int>::broken(Error{ErrorKind::overloaded, "busy"});
    Error thrown;
    try {
      (void)p.value();
    } catch (const VatError& e) {
      thrown = e.error();
    }
    return std::make_tuple(p.is_broken(), p.pending(), p.error(), thrown);
  });
  EXPECT_TRUE(std::get<0>(v));
  EXPECT_FALSE(std::get<1>(v));
  EXPECT_EQ(std::get<2>(v), (Error{ErrorKind::overloaded, "busy"}));
  EXPECT_EQ(std::get<3>(v), (Error{ErrorKind::overloaded, "busy"}));
}

TEST(Promise, ValueOfAPendingPromiseThrowsFailed) {
  Vat vat;
  Error e = run_in(vat, [] {
    auto [p, r] = make_promise<int>();
    try {
      (void)p.value();
    } catch (const VatError& e) {
      r.resolve(0);
      return e.error();
    }
    return Error{};
  });
  EXPECT_EQ(e, (Error{ErrorKind::failed, "promise is still pending"}));
}

TEST(Promise, WaitReturnsTheValueOnceTheResolverResolves) {
  Vat vat;
  auto [p, r] = run_in(vat, [] { return make_promise<std::string>(); });
  EXPECT_TRUE(p.pending());
  r.resolve("done");
  EXPECT_EQ(vat.wait(p), "done");
}

TEST(Promise, ThenRunsInALaterTurnEvenWhenAlreadyResolved) {
  Vat vat;
  bool ran = false;
  bool ran_in_same_turn = true;
  vat.post([&] {
    Promise<int>::resolved(1).then([&](int) { ran = true; });
    ran_in_same_turn = ran;
  });
  vat.run_until_idle();
  EXPECT_FALSE(ran_in_same_turn);
  EXPECT_TRUE(ran);
}

TEST(Promise, ThenChainsTransformValues) {
  Vat vat;
  auto p = run_in(vat, [] {
    return Promise<int>::resolved(2)
        .then([](int x) { return x * 10; })
        .then([](int x) { return std::to_string(x); })
        .then([](const std::string& s) { return s + "!"; });
  });
  EXPECT_EQ(p, "20!");
}

TEST(Promise, ThenFollowsAPromiseReturnedByTheContinuation) {
  Vat vat;
  std::optional<Resolver<int>> inner_r;
  Promise<int> outer;
  vat.post([&] {
    auto [inner, r] = make_promise<int>();
    inner_r.emplace(std::move(r));
    outer = Promise<void>::resolved().then([inner = inner] { return inner; }).then([](int x) { return x + 1; });
  });
  vat.run_until_idle();
  EXPECT_TRUE(outer.pending());
  inner_r->resolve(41);
  EXPECT_EQ(vat.wait(outer), 42);
}

TEST(Promise, ThenOnAVoidPromiseTakesNoArguments) {
  Vat vat;
  EXPECT_EQ(run_in(vat, [] { return Promise<void>::resolved().then([] { return 3; }); }), 3);
}

TEST(Promise, ThenReturningVoidGivesAVoidPromise) {
  Vat vat;
  int seen = 0;
  run_in(vat, [&] { return Promise<int>::resolved(9).then([&](int x) { seen = x; }); });
  EXPECT_EQ(seen, 9);
}

TEST(Promise, ErrorsPassThroughThenUntouched) {
  Vat vat;
  int calls = 0;
  Promise<int> p;
  vat.post([&] {
    p = Promise<int>::broken(Error{ErrorKind::unimplemented, "nope"})
            .then([&](int x) {
              ++calls;
              return x;
            })
            .then([&](int x) {
              ++calls;
              return x;
            });
  });
  vat.run_until_idle();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(test::broken_error(vat, p), (Error{ErrorKind::unimplemented, "nope"}));
}

TEST(Promise, AContinuationThatThrowsBreaksItsPromiseNotTheVat) {
  Vat vat;
  Promise<int> p;
  vat.post([&] { p = Promise<int>::resolved(1).then([](int) -> int { throw std::runtime_error("bad"); }); });
  vat.run_until_idle();
  EXPECT_EQ(test::broken_error(vat, p), (Error{ErrorKind::failed, "bad"}));
  EXPECT_EQ(vat.stats().turn_failures, 0u);
}

TEST(Promise, ThenWithOnBrokenHandlesTheError) {
  Vat vat;
  auto s = run_in(vat, [] {
    return Promise<int>::broken(Error{ErrorKind::disconnected, "gone"})
        .then([](int) { return std::string("value"); }, [](const Error& e) { return "recovered from " + e.reason; });
  });
  EXPECT_EQ(s, "recovered from gone");
}

TEST(Promise, ThenWithOnBrokenIgnoresItWhenFulfilled) {
  Vat vat;
  auto s = run_in(
      vat, [] { return Promise<int>::resolved(5).then([](int x) { return x * 2; }, [](const Error&) { return -1; }); });
  EXPECT_EQ(s, 10);
}

TEST(Promise, CatchErrorRecoversAValue) {
  Vat vat;
  EXPECT_EQ(run_in(vat,
                   [] {
                     return Promise<int>::broken(Error{ErrorKind::overloaded, "busy"}).catch_error([](const Error& e) {
                       return e.kind == ErrorKind::overloaded ? 7 : 0;
                     });
                   }),
            7);
}

TEST(Promise, CatchErrorPassesValuesThrough) {
  Vat vat;
  int calls = 0;
  EXPECT_EQ(run_in(vat,
                   [&] {
                     return Promise<int>::resolved(3).catch_error([&](const Error&) {
                       ++calls;
                       return 0;
                     });
                   }),
            3);
  EXPECT_EQ(calls, 0);
}

TEST(Promise, CatchErrorMayRethrowADifferentError) {
  Vat vat;
  Promise<int> p;
  vat.post([&] {
    p = Promise<int>::broken(Error{ErrorKind::failed, "first"}).catch_error([](const Error& e) -> int {
      throw VatError(ErrorKind::disconnected, "after " + e.reason);
    });
  });
  vat.run_until_idle();
  EXPECT_EQ(test::broken_error(vat, p), (Error{ErrorKind::disconnected, "after first"}));
}

TEST(Promise, CatchErrorMayReturnAPromise) {
  Vat vat;
  EXPECT_EQ(run_in(vat,
                   [] {
                     return Promise<int>::broken(Error{}).catch_error(
                         [](const Error&) { return Promise<int>::resolved(11); });
                   }),
            11);
}

TEST(Promise, CatchErrorOnAVoidPromise) {
  Vat vat;
  bool caught = false;
  run_in(vat, [&] { return Promise<void>::broken(Error{}).catch_error([&](const Error&) { caught = true; }); });
  EXPECT_TRUE(caught);
}

TEST(Resolver, DroppingItUnsettledBreaksThePromise) {
  Vat vat;
  Promise<int> p;
  vat.post([&] {
    auto [q, r] = make_promise<int>();
    p = q;
  });
  vat.run_until_idle();
  EXPECT_EQ(test::broken_error(vat, p), (Error{ErrorKind::failed, "promise dropped without being resolved"}));
}

TEST(Resolver, DroppingItAfterResolvingChangesNothing) {
  Vat vat;
  Promise<int> p;
  vat.post([&] {
    auto [q, r] = make_promise<int>();
    r.resolve(3);
    p = q;
  });
  vat.run_until_idle();
  EXPECT_EQ(vat.wait(p), 3);
}

TEST(Resolver, MoveAssigningOverAnUnsettledResolverBreaksItsPromise) {
  Vat vat;
  Promise<int> a, b;
  Resolver<int> keep;
  vat.post([&] {
    auto [pa, ra] = make_promise<int>();
    auto [pb, rb] = make_promise<int>();
    a = pa;
    b = pb;
    keep = std::move(ra);
    keep = std::move(rb);
  });
  vat.run_until_idle();
  EXPECT_TRUE(a.is_broken());
  EXPECT_TRUE(b.pending());
  EXPECT_TRUE(keep.pending());
  keep.resolve(2);
  EXPECT_EQ(vat.wait(b), 2);
}

TEST(Resolver, TheFirstSettlementWins) {
  Vat vat;
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  r.resolve(1);
  r.resolve(2);
  r.reject(Error{});
  EXPECT_FALSE(r.pending());
  EXPECT_EQ(vat.wait(p), 1);

  auto [q, s] = run_in(vat, [] { return make_promise<int>(); });
  s.reject(Error{ErrorKind::overloaded, "no"});
  s.resolve(5);
  EXPECT_EQ(test::broken_error(vat, q).kind, ErrorKind::overloaded);
}

TEST(Resolver, ResolvingWithAPromiseFollowsIt) {
  Vat vat;
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  auto [q, s] = run_in(vat, [] { return make_promise<int>(); });
  r.resolve(q);
  vat.run_until_idle();
  EXPECT_TRUE(p.pending());
  s.resolve(8);
  EXPECT_EQ(vat.wait(p), 8);
}

TEST(Resolver, ResolvingWithABrokenPromiseBreaksWithItsError) {
  Vat vat;
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  auto q = run_in(vat, [] { return std::make_optional(Promise<int>::broken(Error{ErrorKind::disconnected, "x"})); });
  r.resolve(*q);
  EXPECT_EQ(test::broken_error(vat, p), (Error{ErrorKind::disconnected, "x"}));
}

TEST(Resolver, ResolvingAPromiseToItselfBreaksIt) {
  Vat vat;
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  r.resolve(p);
  Error e = test::broken_error(vat, p);
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "promise resolved to itself (a cycle of promises)");
}

TEST(Resolver, ACycleOfPromisesBreaksInsteadOfLooping) {
  Vat vat;
  auto [a, ra] = run_in(vat, [] { return make_promise<int>(); });
  auto [b, rb] = run_in(vat, [] { return make_promise<int>(); });
  auto [c, rc] = run_in(vat, [] { return make_promise<int>(); });
  ra.resolve(b);
  rb.resolve(c);
  rc.resolve(a);
  vat.run_until_idle();
  for (auto* p : {&a, &b, &c}) {
    ASSERT_FALSE(p->pending());
    EXPECT_EQ(p->error().reason, "promise resolved to itself (a cycle of promises)");
  }
}

TEST(Resolver, ACycleOfPipelinablePromisesBreaksTheSendsQueuedOnIt) {
  Vat vat;
  auto [a, ra] = run_in(vat, [] { return make_promise<Ref<Counter>>(); });
  auto [b, rb] = run_in(vat, [] { return make_promise<Ref<Counter>>(); });
  auto sent = run_in(vat, [a = a] { return std::make_optional(a.send<&Counter::inc>(1)); });
  ra.resolve(b);
  rb.resolve(a);
  EXPECT_EQ(test::broken_error(vat, *sent).reason, "promise resolved to itself (a cycle of promises)");
}

// --- Pipelining on local promises.

TEST(Promise, PipelinedSendsQueueUntilResolvedThenArriveInOrder) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [p, r] = run_in(vat, [] { return make_promise<Ref<Counter>>(); });
  std::vector<Promise<std::int64_t>> results;
  for (int i = 1; i <= 5; ++i) results.push_back(p.send<&Counter::inc>(i));
  vat.run_until_idle();
  EXPECT_EQ(c.call<&Counter::get>(), 0);
  r.resolve(c);
  for (int i = 6; i <= 8; ++i) results.push_back(p.send<&Counter::inc>(i));
  std::int64_t sum = 0;
  for (int i = 0; i < 8; ++i) {
    sum += i + 1;
    EXPECT_EQ(vat.wait(results[i]), sum) << "message " << i + 1 << " out of order";
  }
}

// A relaying promise (PromiseBase::relay_through, used by captp's handoff
// promise) hands each message that would queue to its relay, those already
// queued first; once it stops, messages queue again and go to the resolution.
TEST(Promise, ARelayingPromiseSendsOnUntilItStopsThenQueuesAgain) {
  Vat vat;
  auto relayed_to = vat.make<Counter>(), target = vat.make<Counter>(100);
  auto [p, r] = run_in(vat, [] { return make_promise<Ref<Counter>>(); });
  auto via = detail::RefAccess::make<Counter>(detail::HandlerPtr(p.state()));
  struct Relay final : detail::Listener {
    detail::HandlerPtr to;
    int seen = 0;
    void relay(detail::MessagePtr m) override {
      ++seen;
      to->deliver(std::move(m));
    }
  };
  auto first = via.send<&Counter::inc>(1);  // queued before the relay starts
  auto relay = std::make_unique<Relay>();
  relay->to = detail::RefAccess::handler(relayed_to);
  Relay* raw = relay.get();
  p.state()->listen(std::move(relay));
  p.state()->relay_through(raw);
  auto second = via.send<&Counter::inc>(2);
  EXPECT_EQ(raw->seen, 2);
  EXPECT_EQ(vat.wait(first), 1);
  EXPECT_EQ(vat.wait(second), 3);
  p.state()->stop_relaying();
  auto third = via.send<&Counter::inc>(5);
  vat.run_until_idle();
  EXPECT_TRUE(third.pending()) << "a message went on after the relay stopped";
  EXPECT_EQ(raw->seen, 2);
  r.resolve(target);
  EXPECT_EQ(vat.wait(third), 105);
  EXPECT_EQ(relayed_to.call<&Counter::get>(), 3);
}

TEST(Promise, PipelinedSendReachesTargetAfterResolve) {
  Vat vat;
  auto c = vat.make<Counter>(100);
  auto [p, r] = run_in(vat, [] { return make_promise<Ref<Counter>>(); });
  auto got = p.send<&Counter::get>();
  r.resolve(c);
  EXPECT_EQ(vat.wait(got), 100);
}

TEST(Promise, PipeliningThroughTenHopsInOneVat) {
  Vat vat;
  auto root = vat.make<Node>(0);
  Promise<Ref<Node>> cur = root.send<&Node::next>();
  for (int i = 1; i < 10; ++i) cur = cur.send<&Node::next>();
  auto depth = cur.send<&Node::depth>();
  EXPECT_TRUE(depth.pending());
  EXPECT_EQ(vat.wait(depth), 10);
  Ref<Node> last = vat.wait(cur);
  EXPECT_TRUE(last.is_near());
  EXPECT_EQ(last.call<&Node::depth>(), 10);
  // The intermediate nodes go away with the promises that held them.
  cur = {};
  depth = {};
  last = {};
  vat.run_until_idle();
  EXPECT_EQ(vat.live_objects(), 1u);
}

TEST(Promise, ABrokenHopBreaksEveryLaterPipelinedSendWithTheSameError) {
  Vat vat;
  const Error why{ErrorKind::overloaded, "no room for node 4"};
  auto root = vat.make<Node>(0, 4, why);
  std::vector<Promise<Ref<Node>>> hops{root.send<&Node::next>()};
  for (int i = 1; i < 10; ++i) hops.push_back(hops.back().send<&Node::next>());
  auto depth = hops.back().send<&Node::depth>();
  EXPECT_EQ(test::broken_error(vat, depth), why);
  for (int i = 0; i < 10; ++i) {
    if (i < 3) {
      EXPECT_EQ(vat.wait(vat.wait(hops[i]).send<&Node::depth>()), i + 1);
    } else {
      EXPECT_EQ(test::broken_error(vat, hops[i]), why) << "hop " << i + 1;
    }
  }
}

TEST(Promise, SendsToABrokenPromiseBreakAtOnceWithItsError) {
  Vat vat;
  auto [p, r] = run_in(vat, [] { return make_promise<Ref<Counter>>(); });
  r.reject(Error{ErrorKind::unimplemented, "x"});
  auto late = p.send<&Counter::get>();
  EXPECT_FALSE(late.pending());
  EXPECT_EQ(late.error(), (Error{ErrorKind::unimplemented, "x"}));
}

TEST(Promise, SendsToAPromiseForAnEmptyReferenceBreak) {
  Vat vat;
  auto root = vat.make<Node>(0);
  auto sent = root.send<&Node::none>().send<&Node::depth>();
  Error e = test::broken_error(vat, sent);
  EXPECT_EQ(e.kind, ErrorKind::failed);
}

TEST(Promise, DroppingAllHandlesOfAPendingPipelinedPromiseBreaksQueuedSends) {
  Vat vat;
  Promise<std::int64_t> sent;
  vat.post([&] {
    auto [p, r] = make_promise<Ref<Counter>>();
    sent = p.send<&Counter::get>();
  });
  vat.run_until_idle();
  EXPECT_EQ(test::broken_error(vat, sent), (Error{ErrorKind::failed, "promise dropped without being resolved"}));
}

TEST(Promise, WaitOnAPromiseNothingCanSettleFailsWithAManualClock) {
  ManualClock clock;
  Vat vat(VatOptions{.name = "v", .clock = &clock});
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  Error e;
  try {
    vat.wait(p);
  } catch (const VatError& x) {
    e = x.error();
  }
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "vat v: waiting on a promise that nothing left can settle");
  r.resolve(1);
  EXPECT_EQ(vat.wait(p), 1);
}

// make_promise and Promise::resolved outside any turn make a promise with no
// vat, which crashes as soon as anything listens to it (Task refuses this with
// std::logic_error; these should too).
TEST(Promise, MakePromiseOutsideAVatIsRefused) {
  EXPECT_THROW((void)make_promise<int>(), std::logic_error);
  EXPECT_THROW((void)Promise<int>::resolved(1), std::logic_error);
}

RC_GTEST_PROP(Promise, ThenChainsComputeLikeDirectCalls, (std::vector<std::int32_t> steps)) {
  Vat vat;
  std::int64_t expected = 0;
  for (auto s : steps) expected = expected * 3 % 1'000'003 + s;
  auto got = run_in(vat, [&] {
    auto p = Promise<std::int64_t>::resolved(0);
    for (auto s : steps) {
      if (s % 2 == 0) {
        p = p.then([s](std::int64_t x) { return x * 3 % 1'000'003 + s; });
      } else {
        p = p.then([s](std::int64_t x) { return Promise<std::int64_t>::resolved(x * 3 % 1'000'003 + s); });
      }
    }
    return p;
  });
  RC_ASSERT(got == expected);
}

// --- Found in review: each of these crashed, hung or misbehaved once.

TEST(Resolver, ASecondResolveIsIgnoredSoValueAndPipelineAgree) {
  Vat vat;
  auto c1 = vat.make<Counter>(100);
  auto c2 = vat.make<Counter>(200);
  Promise<std::int64_t> sent;
  Promise<Ref<Counter>> p;
  Resolver<Ref<Counter>> inner_r;
  vat.post([&] {
    auto [pp, r] = make_promise<Ref<Counter>>();
    auto [inner, ri] = make_promise<Ref<Counter>>();
    p = pp;
    r.resolve(inner);
    r.resolve(c2);  // ignored: r was used up by the first resolve
    sent = p.send<&Counter::inc>(1);
    ri.resolve(c1);
  });
  vat.run_until_idle();
  EXPECT_TRUE(p.value() == c1);
  EXPECT_EQ(sent.value(), 101);
}

TEST(Resolver, ResolvingWithAPromiseIsNotAbandonment) {
  Vat vat;
  Promise<std::int64_t> p;
  Resolver<std::int64_t> keep;
  vat.post([&] {
    auto [outer, r] = make_promise<std::int64_t>();
    auto [inner, ri] = make_promise<std::int64_t>();
    p = outer;
    r.resolve(inner);  // r is dropped at the end of this turn: p must keep following
    keep = std::move(ri);
  });
  vat.run_until_idle();
  EXPECT_TRUE(p.pending());
  vat.post([&] { keep.resolve(5); });
  vat.run_until_idle();
  EXPECT_EQ(p.value(), 5);
}

Promise<std::int64_t> countdown(std::int64_t n) {
  if (n == 0) return Promise<std::int64_t>::resolved(0);
  return Promise<void>::resolved().then([n] { return countdown(n - 1); });
}

TEST(Promise, AChainOfAHundredThousandFollowersSettlesWithoutDeepRecursion) {
  Vat vat;
  Promise<std::int64_t> out;
  vat.post([&] { out = countdown(100'000); });
  vat.run_until_idle();
  EXPECT_EQ(out.value(), 0);
  out = {};  // and the chain is destroyed without recursion too
}

TEST(Promise, FulfilledWithAReferenceToItselfBreaksInsteadOfLooping) {
  Vat vat;
  Promise<Value> p;
  Promise<Value> q;
  vat.post([&] {
    auto [pp, r] = make_promise<Value>();
    p = pp;
    r.resolve(to_value(pp));
    auto [qq, rq] = make_promise<Value>();
    q = qq;
    rq.resolve(pp);
  });
  vat.run_until_idle();
  ASSERT_TRUE(p.is_broken());
  EXPECT_EQ(p.error().kind, ErrorKind::failed);
  ASSERT_TRUE(q.is_broken());
  EXPECT_EQ(q.error(), p.error());
}

// A result decoded off the wire settles its promise without a second copy of
// its bytes: the promise takes the very buffer the Value held.
TEST(Promise, SettlingFromAnOwnedValueMovesItsBytes) {
  Vat vat;
  auto v = run_in(vat, [] {
    auto state = detail::new_state<Bytes>(nullptr);
    Value wire(Bytes(1 << 16, 7));
    const std::uint8_t* before = wire.as_bytes().data();
    state->settle_from_owned_value(std::move(wire));
    Promise<Bytes> p(state);
    return std::make_tuple(p.ready(), p.value().size(), p.value().data() == before);
  });
  EXPECT_EQ(v, std::make_tuple(true, std::size_t{1 << 16}, true));
}

TEST(Promise, SettlingFromAnOwnedValueOfTheWrongTypeBreaks) {
  Vat vat;
  auto broken = run_in(vat, [] {
    auto state = detail::new_state<Bytes>(nullptr);
    state->settle_from_owned_value(Value(std::int64_t{3}));
    return Promise<Bytes>(state).is_broken();
  });
  EXPECT_TRUE(broken);
}

}  // namespace
}  // namespace vatic
