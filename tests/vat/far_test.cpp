#include "vat/internal/far.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "tests/vat/test_objects.h"
#include "vat/simulation.h"

namespace vatic {
namespace {

using test::Counter;
using test::eventually;
using test::Geometry;
using test::Holder;
using test::in;
using test::Node;
using test::Peer;
using test::Point;
using test::Recorder;
using test::Shape;

// --- E-order across four vats, under random interleavings.

struct Step {
  int path;           // 0: the far ref; 1: a promise answered in the recorder's vat; 2: one answered in a third vat
  bool yield;         // end the turn before this send
  bool settle_first;  // wait for the path's promise to settle before this send
};

// One sender's script, run as a coroutine in its own vat. Every message carries
// the sender's id, its path and a sequence number counted across all paths.
Task<std::int64_t> send_script(std::int64_t id, std::vector<Step> script, Ref<Recorder> direct, Ref<Holder> home_holder,
                               Ref<Holder> third_holder) {
  Promise<Ref<Recorder>> via_home = home_holder.send<&Holder::recorder>();
  Promise<Ref<Recorder>> via_third = third_holder.send<&Holder::recorder>();
  std::vector<Promise<void>> acks;
  std::int64_t seq = 0;
  for (const Step& s : script) {
    if (s.yield) co_await Promise<void>::resolved();
    if (s.settle_first && s.path == 1) co_await via_home;
    if (s.settle_first && s.path == 2) co_await via_third;
    switch (s.path) {
      case 0: acks.push_back(direct.send<&Recorder::record>(id, 0, seq)); break;
      case 1: acks.push_back(via_home.send<&Recorder::record>(id, 1, seq)); break;
      default: acks.push_back(via_third.send<&Recorder::record>(id, 2, seq)); break;
    }
    ++seq;
  }
  for (auto& a : acks) co_await a;
  co_return seq;
}

RC_GTEST_PROP(EOrder, MessagesThroughOneReferenceArriveInSendOrderAcrossFourVats, ()) {
  const int senders = 3;
  std::vector<std::vector<Step>> scripts;
  for (int k = 0; k < senders; ++k) {
    auto n = *rc::gen::inRange<std::size_t>(0, 25);
    auto raw = *rc::gen::container<std::vector<std::tuple<int, bool, bool>>>(
        n, rc::gen::tuple(rc::gen::inRange(0, 3), rc::gen::arbitrary<bool>(),
                          rc::gen::weightedElement<bool>({{1, true}, {4, false}})));
    std::vector<Step> script;
    for (auto [path, yield, settle] : raw) script.push_back({path, yield, settle});
    scripts.push_back(std::move(script));
  }

  VatGroup g(senders + 1);
  auto rec = in(g[0], [&] { return portable(g[0].make<Recorder>()); });
  std::vector<Portable<Holder>> holders;
  for (int k = 0; k <= senders; ++k) {
    holders.push_back(in(g[k], [&] {
      auto h = g[k].make<Holder>();
      h.call<&Holder::set>(rec.take());
      return portable(h);
    }));
  }
  std::vector<std::future<std::int64_t>> done;
  for (int k = 1; k <= senders; ++k) {
    int third = k % senders + 1;  // another sender's vat
    done.push_back(g[k].submit([&, k, third] {
      return send_script(k, scripts[k - 1], rec.take(), holders[0].take(), holders[third].take());
    }));
  }
  std::int64_t sent = 0;
  for (auto& f : done) sent += f.get();

  auto log = in(g[0], [&] { return rec.take().call<&Recorder::log>(); });
  RC_ASSERT(static_cast<std::int64_t>(log.size()) == sent);
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> last;  // (sender, path) -> last seq
  for (const auto& e : log) {
    auto key = std::make_pair(e.sender, e.path);
    auto it = last.find(key);
    if (it != last.end()) RC_ASSERT(e.seq > it->second);
    last[key] = e.seq;
  }
}

Task<std::vector<std::int64_t>> inc_many(Ref<Counter> far, int n) {
  std::vector<Promise<std::int64_t>> ps;
  for (int i = 1; i <= n; ++i) ps.push_back(far.send<&Counter::inc>(i));
  std::vector<std::int64_t> out;
  for (auto& p : ps) out.push_back(co_await p);
  co_return out;
}

TEST(EOrder, ManySendsOnOneFarRefArriveInOrder) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  auto results = in(g[1], [&] { return inc_many(c.take(), 200); });
  ASSERT_EQ(results.size(), 200u);
  std::int64_t sum = 0;
  for (int i = 1; i <= 200; ++i) EXPECT_EQ(results[i - 1], sum += i);
}

// --- Far sends and answers.

TEST(Far, SendsReachTheObjectInItsVatAndAnswerBack) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>(10)); });
  EXPECT_EQ(in(g[1], [&] { return c.take().send<&Counter::inc>(5); }), 15);
  EXPECT_EQ(in(g[0], [&] { return c.take().call<&Counter::get>(); }), 15);
}

TEST(Far, MethodsRunOnTheHomeVatsThread) {
  VatGroup g(2);
  auto n = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
  EXPECT_EQ(in(g[1], [&] { return n.take().send<&Node::where>(); }), "vat0");
}

TEST(Far, PortableTakenInItsHomeVatIsTheNearRef) {
  VatGroup g(2);
  auto [p, same, near] = in(g[0], [&] {
    auto c = g[0].make<Counter>();
    auto pc = portable(c);
    auto back = pc.take();
    return std::make_tuple(pc, back == c, back.is_near());
  });
  EXPECT_TRUE(p);
  EXPECT_TRUE(same);
  EXPECT_TRUE(near);
  EXPECT_FALSE(in(g[1], [&] { return p.take().is_near(); }));
}

TEST(Far, PortablesAreTakenInsideTurnsAndAreNeverEmpty) {
  EXPECT_FALSE(Portable<Counter>());
  Vat vat;
  auto pc = portable(vat.make<Counter>());
  EXPECT_THROW((void)pc.take(), VatError);  // outside any turn
  EXPECT_THROW((void)portable(Ref<Counter>()), VatError);
}

TEST(Far, DynamicSendsAcrossVats) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  EXPECT_EQ(in(g[1], [&] { return c.take().send("inc", 5); }), Value(5));
  EXPECT_EQ(test::future_error(g[1], g[1].submit([&] { return c.take().send("nope"); })).kind,
            ErrorKind::unimplemented);
  EXPECT_EQ(test::future_error(g[1], g[1].submit([&] { return c.take().send("inc", 1, 2); })),
            (Error{ErrorKind::failed, "method inc takes 1 argument(s), got 2"}));
}

TEST(Far, AnUnlistedMethodCannotBeSentToAFarRef) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  Error e = test::future_error(g[1], g[1].submit([&] { return c.take().send<&Counter::secret>(); }));
  EXPECT_EQ(e.kind, ErrorKind::unimplemented);
}

TEST(Far, DataArgumentsAndResultsAreCopiedAcross) {
  VatGroup g(2);
  auto geo = in(g[0], [&] { return portable(g[0].make<Geometry>()); });
  EXPECT_EQ(in(g[1], [&] { return geo.take().send<&Geometry::shift>(Point{1, 2}, 3, 4); }), (Point{4, 6}));
  Shape s{"sq", {{0, 0}, {1, 1}}, std::nullopt, {{"k", 1}}, {1, 2, 3}, true};
  Shape expected = s;
  expected.scale = 3.0;
  EXPECT_EQ(in(g[1], [&] { return geo.take().send<&Geometry::scaled>(s, 3.0); }), expected);
  EXPECT_EQ(in(g[1],
               [&] {
                 return geo.take().send<&Geometry::squares>(std::vector<std::int64_t>{1, -2, 3});
               }),
            (std::vector<std::int64_t>{1, 4, 9}));
  EXPECT_EQ(in(g[1], [&] { return geo.take().send<&Geometry::maybe>(true); }), "yes");
  EXPECT_EQ(in(g[1], [&] { return geo.take().send<&Geometry::maybe>(false); }), std::nullopt);
}

TEST(Far, AResultThatDoesNotDecodeBreaksTheCall) {
  VatGroup g(2);
  auto geo = in(g[0], [&] { return portable(g[0].make<Geometry>()); });
  // small() takes a uint8_t; the argument is checked where it is decoded, in vat0.
  EXPECT_EQ(test::future_error(g[1], g[1].submit([&] { return geo.take().send("small", 300); })),
            (Error{ErrorKind::failed, "integer 300 out of range"}));
}

Task<std::vector<std::string>> boom_then_inc(Ref<Counter> far) {
  auto bad = far.send<&Counter::boom>();
  auto good = far.send<&Counter::inc>(1);
  std::vector<std::string> out;
  try {
    co_await bad;
    out.push_back("no error");
  } catch (const VatError& e) {
    out.push_back(e.what());
  }
  out.push_back(std::to_string(co_await good));
  co_return out;
}

TEST(Far, AnExceptionInAFarTurnBreaksOnlyThatCall) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  EXPECT_EQ(in(g[1], [&] { return boom_then_inc(c.take()); }), (std::vector<std::string>{"failed: boom", "1"}));
  EXPECT_EQ(in(g[1], [&] { return c.take().send<&Counter::inc>(1); }), 2);
  EXPECT_EQ(in(g[0], [&] { return g[0].stats().turn_failures; }), 0u);
}

TEST(Far, TheErrorKindSurvivesTheTrip) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  for (auto kind : {ErrorKind::failed, ErrorKind::disconnected, ErrorKind::overloaded, ErrorKind::unimplemented}) {
    Error e = test::future_error(
        g[1], g[1].submit([&] { return c.take().send<&Counter::fail_with>(static_cast<int>(kind), "why"); }));
    EXPECT_EQ(e, (Error{kind, "why"}));
  }
}

// --- Pipelining across vats.

Task<std::vector<std::int64_t>> ten_hops(Ref<Node> root) {
  Promise<Ref<Node>> cur = root.send<&Node::next>();
  for (int i = 1; i < 10; ++i) cur = cur.send<&Node::next>();
  auto depth = cur.send<&Node::depth>();
  auto where = cur.send<&Node::where>();
  // Every send left before any answer came back: nothing waited for a reference.
  auto in_flight = static_cast<std::int64_t>(Vat::current()->stats().pending_questions);
  std::int64_t d = co_await depth;
  std::string w = co_await where;
  co_return std::vector<std::int64_t>{in_flight, d, w == "vat0" ? 1 : 0};
}

TEST(Pipelining, TenPromiseHopsAcrossVatsReachTheLastNode) {
  VatGroup g(2);
  auto root = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
  auto r = in(g[1], [&] { return ten_hops(root.take()); });
  EXPECT_EQ(r, (std::vector<std::int64_t>{12, 10, 1}));
}

TEST(Pipelining, TenPromiseHopsWithinOneVatOfAGroup) {
  VatGroup g(1);
  auto r = in(g[0], [&] { return ten_hops(g[0].make<Node>(0)); });
  EXPECT_EQ(r[1], 10);
  EXPECT_EQ(r[0], 0);  // no far calls at all
}

TEST(Pipelining, HopsThatZigZagBetweenVats) {
  VatGroup g(3);
  // Two chains of Holders/Peers are awkward; use Peers that hand out counters in another vat.
  auto c = in(g[2], [&] { return portable(g[2].make<Counter>(100)); });
  auto peer = in(g[0], [&] {
    auto p = g[0].make<Peer>();
    p.call<&Peer::adopt>(c.take());
    return portable(p);
  });
  // vat1 asks vat0's peer for vat2's counter and pipelines on the answer.
  EXPECT_EQ(in(g[1],
               [&] {
                 auto counter = peer.take().send<&Peer::counter>();
                 counter.send<&Counter::inc>(1);
                 counter.send<&Counter::inc>(2);
                 return counter.send<&Counter::get>();
               }),
            103);
}

TEST(Pipelining, ThroughALocalPromiseThatResolvesToAFarRef) {
  VatGroup g(2);
  auto root = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
  EXPECT_EQ(in(g[1],
               [&] {
                 auto [p, r] = make_promise<Ref<Node>>();
                 Promise<Ref<Node>> cur = p;
                 for (int i = 0; i < 5; ++i) cur = cur.send<&Node::next>();
                 auto depth = cur.send<&Node::depth>();
                 r.resolve(root.take());  // everything queued so far now travels to vat0
                 return depth;
               }),
            5);
}

Task<std::vector<std::string>> broken_chain(Ref<Node> root) {
  std::vector<Promise<Ref<Node>>> hops{root.send<&Node::next>()};
  for (int i = 1; i < 10; ++i) hops.push_back(hops.back().send<&Node::next>());
  auto depth = hops.back().send<&Node::depth>();
  std::vector<std::string> out;
  for (auto& h : hops) {
    try {
      co_await h;
      out.push_back("ok");
    } catch (const VatError& e) {
      out.push_back(e.what());
    }
  }
  try {
    co_await depth;
    out.push_back("ok");
  } catch (const VatError& e) {
    out.push_back(e.what());
  }
  co_return out;
}

TEST(Pipelining, ABrokenHopBreaksEveryLaterSendWithTheSameError) {
  VatGroup g(2);
  auto root = in(g[0], [&] { return portable(g[0].make<Node>(0, 4, Error{ErrorKind::overloaded, "node 4 refused"})); });
  auto out = in(g[1], [&] { return broken_chain(root.take()); });
  std::vector<std::string> expected{"ok", "ok", "ok"};
  for (int i = 3; i < 11; ++i) expected.push_back("overloaded: node 4 refused");
  EXPECT_EQ(out, expected);
}

TEST(Pipelining, ABrokenHopInTheSameVatBreaksTheSameWay) {
  VatGroup g(1);
  auto out = in(g[0], [&] { return broken_chain(g[0].make<Node>(0, 1, Error{ErrorKind::unimplemented, "no next"})); });
  EXPECT_EQ(out, std::vector<std::string>(11, "unimplemented: no next"));
}

TEST(Pipelining, SendsToAPromiseForAnEmptyFarAnswerBreak) {
  VatGroup g(2);
  auto root = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
  Error e = test::future_error(g[1], g[1].submit([&] { return root.take().send<&Node::none>().send<&Node::depth>(); }));
  EXPECT_EQ(e.kind, ErrorKind::failed);
}

// --- References and promises as arguments and results.

TEST(Far, ARefPassedOnToAThirdVatStillReachesItsObject) {
  VatGroup g(3);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  auto peer = in(g[2], [&] { return portable(g[2].make<Peer>()); });
  // vat1 introduces vat2's peer to vat0's counter; vat2 then pokes it.
  EXPECT_EQ(in(g[1],
               [&] {
                 auto p = peer.take();
                 p.send<&Peer::adopt>(c.take());
                 return p.send<&Peer::poke>(5);
               }),
            5);
  EXPECT_EQ(in(g[0], [&] { return c.take().call<&Counter::get>(); }), 5);
  EXPECT_TRUE(in(g[1], [&] { return peer.take().send<&Peer::holds>(c.take()); }));
  EXPECT_TRUE(in(g[2], [&] { return peer.take().call<&Peer::holds>(c.take()); }));
}

Task<std::vector<std::int64_t>> round_trip(Ref<Counter> mine, Ref<Peer> far_peer) {
  far_peer.send<&Peer::adopt>(mine);
  Ref<Counter> back = co_await far_peer.send<&Peer::counter>();
  co_return std::vector<std::int64_t>{back == mine, back.is_near(), back.call<&Counter::inc>(1)};
}

TEST(Far, AReferenceThatComesHomeIsNear) {
  VatGroup g(2);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  auto peer = in(g[1], [&] { return portable(g[1].make<Peer>()); });
  EXPECT_EQ(in(g[0], [&] { return round_trip(c.take(), peer.take()); }), (std::vector<std::int64_t>{1, 1, 1}));
  EXPECT_FALSE(in(g[1], [&] { return peer.take().call<&Peer::is_near>(c.take()); }));
}

TEST(Far, APromisePassedToAnotherVatSettlesThereWhenResolvedHere) {
  VatGroup g(2);
  auto peer = in(g[0], [&] { return portable(g[0].make<Peer>()); });
  EXPECT_EQ(in(g[1],
               [&] {
                 auto [p, r] = make_promise<std::int64_t>();
                 auto doubled = peer.take().send<&Peer::twice>(p);
                 auto shared = std::make_shared<Resolver<std::int64_t>>(std::move(r));
                 // Resolve in a later turn, after the call has left.
                 Promise<void>::resolved().then([shared] { shared->resolve(21); });
                 return doubled;
               }),
            42);
}

TEST(Far, AResolvedPromisePassedToAnotherVatCarriesItsValue) {
  VatGroup g(2);
  auto peer = in(g[0], [&] { return portable(g[0].make<Peer>()); });
  EXPECT_EQ(in(g[1], [&] { return peer.take().send<&Peer::twice>(Promise<std::int64_t>::resolved(4)); }), 8);
}

TEST(Far, ABrokenPromisePassedToAnotherVatBreaksThereWithTheSameError) {
  VatGroup g(2);
  auto peer = in(g[0], [&] { return portable(g[0].make<Peer>()); });
  Error e = test::future_error(g[1], g[1].submit([&] {
    return peer.take().send<&Peer::twice>(Promise<std::int64_t>::broken(Error{ErrorKind::overloaded, "no"}));
  }));
  EXPECT_EQ(e, (Error{ErrorKind::overloaded, "no"}));
}

TEST(Far, APromiseFromAFarCallCanBePassedOnToAThirdVat) {
  VatGroup g(3);
  auto c = in(g[0], [&] { return portable(g[0].make<Counter>(6)); });
  auto peer = in(g[2], [&] { return portable(g[2].make<Peer>()); });
  EXPECT_EQ(in(g[1],
               [&] {
                 Promise<std::int64_t> six = c.take().send<&Counter::get>();
                 return peer.take().send<&Peer::twice>(six);
               }),
            12);
}

// --- Release.

TEST(FarRelease, DroppingEveryFarHolderFreesTheObject) {
  VatGroup g(2);
  auto live0 = [&] { return g[0].live_objects(); };
  const std::size_t base = in(g[0], live0);
  auto peer = in(g[1], [&] { return portable(g[1].make<Peer>()); });
  {
    auto c = in(g[0], [&] { return portable(g[0].make<Counter>()); });
    EXPECT_EQ(in(g[1],
                 [&] {
                   auto p = peer.take();
                   p.call<&Peer::adopt>(c.take());
                   return p.call<&Peer::poke>(1);
                 }),
              1);
    EXPECT_EQ(in(g[0], live0), base + 1);
  }
  // Only vat1's peer holds the counter now.
  EXPECT_EQ(in(g[0], live0), base + 1);
  in(g[1], [&] { peer.take().call<&Peer::drop>(); });
  EXPECT_TRUE(eventually(g[0], [&] { return g[0].live_objects() == base; }));
}

TEST(FarRelease, ObjectsMadeByPipelinedCallsAreFreedWhenTheCallerLetsGo) {
  VatGroup g(2);
  auto live0 = [&] { return g[0].live_objects(); };
  const std::size_t base = in(g[0], live0);
  {
    auto root = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
    EXPECT_EQ(in(g[1], [&] { return ten_hops(root.take()); })[1], 10);
    EXPECT_GT(in(g[0], live0), base);
  }
  EXPECT_TRUE(eventually(g[0], [&] { return g[0].live_objects() == base; }));
  EXPECT_TRUE(eventually(g[1], [&] { return g[1].stats().pending_questions == 0; }));
}

TEST(FarRelease, APortableKeepsItsObjectAliveUntilDropped) {
  VatGroup g(1);
  std::optional<Portable<Counter>> pc = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  EXPECT_EQ(in(g[0], [&] { return g[0].live_objects(); }), 1u);
  pc.reset();
  EXPECT_TRUE(eventually(g[0], [&] { return g[0].live_objects() == 0; }));
}

TEST(FarRelease, StandaloneVatsReleaseDeterministically) {
  Vat a(VatOptions{.name = "a"}), b(VatOptions{.name = "b"});
  auto pc = std::make_optional(portable(a.make<Counter>()));
  auto far = test::run_in(b, [&] { return pc->take(); });
  pc.reset();
  test::pump({&a, &b});
  EXPECT_EQ(a.live_objects(), 1u);
  auto p = test::run_in(b, [&] { return std::make_optional(far.send<&Counter::inc>(1)); });
  EXPECT_EQ(test::pumped({&a, &b}, *p), 1);
  far = {};
  p.reset();
  test::pump({&a, &b});
  EXPECT_EQ(a.live_objects(), 0u);
}

// --- Found in review.

class Sayer : public Object {
 public:
  Sayer(Ref<Peer> peer, Ref<Counter> mine) : peer_(std::move(peer)), mine_(std::move(mine)) {}
  ~Sayer() override { peer_.send<&Peer::adopt>(mine_); }  // hands its counter on as it goes
  int ping() { return 1; }
  VATIC_METHODS(Sayer, ping)

 private:
  Ref<Peer> peer_;
  Ref<Counter> mine_;
};

TEST(FarRelease, AReferenceExportedWhileItsVatIsReleasedIsDeadNotImmortal) {
  auto a = std::make_unique<Vat>(VatOptions{.name = "a"});
  Vat b(VatOptions{.name = "b"});
  auto peer = b.make<Peer>();
  auto pp = portable(peer);
  Portable<Sayer> ps;
  a->post([&] { ps = portable(a->make<Sayer>(pp.take(), a->make<Counter>(6))); });
  a->run_until_idle();
  a->release();  // ~Sayer exports a's Counter to b during the release
  EXPECT_EQ(a->live_objects(), 0u);
  b.run_until_idle();
  ps = {};
  a.reset();
  Promise<std::int64_t> got;
  b.post([&] { got = peer.call<&Peer::poke>(1); });
  b.run_until_idle();
  ASSERT_TRUE(got.is_broken());
  EXPECT_EQ(got.error().kind, ErrorKind::disconnected);
  b.post([&] { peer.call<&Peer::drop>(); });
  b.run_until_idle();
}

class Taker : public Object {
 public:
  Task<std::int64_t> get_via(Promise<Ref<Counter>> p) {
    Ref<Counter> c = co_await p;
    co_return co_await c.send<&Counter::get>();
  }
  VATIC_METHODS(Taker, get_via)
};

TEST(FarPromise, APlainReferenceStandsForASettledPromiseParameter) {
  Simulation sim(2);
  auto t = portable(sim[0].make<Taker>());
  auto c = portable(sim[1].make<Counter>(7));
  Promise<Value> r;
  sim[1].post([&] { r = t.take().send("get_via", c.take()); });
  sim.run_until_idle();
  ASSERT_FALSE(r.pending());
  EXPECT_EQ(r.value().as_int(), 7);
}

class Box : public Object {
 public:
  Box() {
    auto [p, r] = make_promise<Value>();
    p_ = p;
    r_ = std::move(r);
  }
  Value handle() const { return to_value(p_); }
  void put(Value v) { r_.resolve(std::move(v)); }
  VATIC_METHODS(Box, handle, put)

 private:
  Promise<Value> p_;
  Resolver<Value> r_;
};

TEST(FarPromise, APeerCannotMakeAPromiseForwardToItself) {
  Simulation sim(2);
  Portable<Box> b;
  sim[0].post([&] { b = portable(sim[0].make<Box>()); });
  sim.run_until_idle();
  Promise<std::int64_t> sent;
  sim[1].post([&] {
    Ref<Box> box = b.take();
    box.send("handle").then([box, &sent](const Value& h) {
      box.send("put", h);  // resolve the box's promise with itself
      sent = from_value<Ref<Counter>>(h).send<&Counter::get>();
    });
  });
  sim.run_until_idle();
  ASSERT_TRUE(sent.is_broken());
  EXPECT_EQ(sent.error().kind, ErrorKind::failed);
  // The vat that was attacked still serves.
  Promise<Value> again;
  sim[1].post([&] { again = b.take().send("handle"); });
  sim.run_until_idle();
  EXPECT_FALSE(again.pending());
}

}  // namespace
}  // namespace vatic
