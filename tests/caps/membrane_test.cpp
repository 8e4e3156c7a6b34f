#include "caps/membrane.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "caps/forwarder.h"
#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

using test::Counter;
using test::in;
using test::Node;
using test::Pending;
using test::Recorder;

// --- Objects: a Box inside the membrane hands out its counter by every path
// a reference can take; a Sink outside receives one through a callback.

struct Pair {
  Ref<Counter> counter;
  std::int64_t n = 0;
  VATIC_FIELDS(Pair, counter, n)
};

struct Later {
  Promise<Ref<Counter>> counter;
  VATIC_FIELDS(Later, counter)
};

class Sink : public Object {
 public:
  void take(Ref<Counter> c) { got_ = std::move(c); }
  Ref<Counter> got() const { return got_; }
  VATIC_METHODS(Sink, take, got)

 private:
  Ref<Counter> got_;
};

class Box : public Object {
 public:
  explicit Box(Ref<Counter> c) : c_(std::move(c)) {}

  Ref<Counter> counter() const { return c_; }
  Pair pair() const { return Pair{c_, 7}; }
  std::vector<Ref<Counter>> list() const { return {c_, c_}; }
  Promise<Ref<Counter>> later() {
    auto [p, r] = make_promise<Ref<Counter>>();
    waiting_.push_back(std::move(r));
    return p;
  }
  Later later_in_record() { return Later{later()}; }
  std::int64_t release() {
    auto n = static_cast<std::int64_t>(waiting_.size());
    for (auto& r : waiting_) r.resolve(c_);
    waiting_.clear();
    return n;
  }
  // Calls back into whatever the caller passed, handing it the counter.
  Promise<void> give_to(Ref<Sink> s) {
    sink_ = s;
    return s.send<&Sink::take>(c_);
  }
  Promise<void> give_again() { return sink_.send<&Sink::take>(c_); }
  bool is_mine(Ref<Counter> c) const { return c == c_; }
  bool is_near_arg(Ref<Counter> c) const { return c.is_near(); }

  VATIC_METHODS(Box, counter, pair, list, later, later_in_record, release, give_to, give_again, is_mine, is_near_arg)

 private:
  Ref<Counter> c_;
  Ref<Sink> sink_;
  std::vector<Resolver<Ref<Counter>>> waiting_;
};

std::shared_ptr<caps::MembranePolicy> open_policy() { return std::make_shared<caps::RevocableOnly>(); }
Error errorf(const std::string& reason) { return Error{ErrorKind::failed, reason}; }

// A reference obtained through the membrane must be wrapped: not the bare
// counter, usable until the membrane is revoked, dead afterwards.
void expect_wrapped_then_cut(Vat& vat, const Ref<Counter>& got, const Ref<Counter>& bare,
                             caps::MembraneControl control) {
  EXPECT_FALSE(got.is_near());
  EXPECT_FALSE(got == bare);
  std::int64_t before = bare.call<&Counter::get>();
  EXPECT_EQ(test::pumped({&vat}, got.send<&Counter::inc>(1)), before + 1);
  control.revoke("attack over");
  EXPECT_EQ(test::pumped_error({&vat}, got.send<&Counter::inc>(1)), errorf("revoked: attack over"));
  EXPECT_EQ(bare.call<&Counter::get>(), before + 1);
}

// --- Near objects in one vat.

TEST(Membrane, PassesCallsAndResultsThrough) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [m, control] = caps::membrane(c, open_policy());
  EXPECT_EQ(test::pumped({&vat}, m.send<&Counter::inc>(5)), 5);
  EXPECT_EQ(test::pumped({&vat}, m.send("describe", "n=")).as_text(), "n=5");
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Counter::fail_with>(1, "nope")),
            (Error{ErrorKind::disconnected, "nope"}));
  EXPECT_FALSE(m.is_near());
  EXPECT_FALSE(m == c);
}

TEST(Membrane, PipelinesThroughTheMembrane) {
  Vat vat;
  auto root = vat.make<Node>(0);
  auto [m, control] = caps::membrane(root, open_policy());
  auto n1 = m.send<&Node::next>();
  auto n2 = n1.send<&Node::next>();
  auto d = n2.send<&Node::depth>();
  EXPECT_TRUE(n1.pending());
  EXPECT_EQ(test::pumped({&vat}, d), 2);
  EXPECT_FALSE(n2.value().is_near());
}

TEST(Membrane, RevokeCutsAReferenceObtainedThreeCallsDeep) {
  Vat vat;
  auto root = vat.make<Node>(0);
  auto [m, control] = caps::membrane(root, open_policy());
  Ref<Node> n3 = test::pumped({&vat}, m.send<&Node::next>().send<&Node::next>().send<&Node::next>());
  EXPECT_FALSE(n3.is_near());
  EXPECT_EQ(test::pumped({&vat}, n3.send<&Node::depth>()), 3);
  control.revoke("over");
  EXPECT_TRUE(control.revoked());
  EXPECT_EQ(n3.kind(), RefKind::broken);
  EXPECT_EQ(test::pumped_error({&vat}, n3.send<&Node::depth>()), errorf("revoked: over"));
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Node::depth>()), errorf("revoked: over"));
}

TEST(Membrane, RevokeBreaksQueuedMessages) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [m, control] = caps::membrane(c, open_policy());
  std::vector<Promise<std::int64_t>> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(m.send<&Counter::inc>(1));
  control.revoke(Error{ErrorKind::failed, "refused: invalid token"});
  for (auto& p : sent) EXPECT_EQ(test::pumped_error({&vat}, p), errorf("refused: invalid token"));
  EXPECT_EQ(c.call<&Counter::get>(), 0);
}

TEST(Membrane, RevokeBreaksMessagesPipelinedOnAPendingAnswer) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto box = vat.make<Box>(c);
  auto [m, control] = caps::membrane(box, open_policy());
  auto later = m.send<&Box::later>();
  auto inc = later.send<&Counter::inc>(1);
  vat.run_until_idle();
  EXPECT_TRUE(inc.pending());
  control.revoke("cut");
  EXPECT_EQ(test::pumped({&vat}, box.send<&Box::release>()), 1);
  EXPECT_EQ(test::pumped_error({&vat}, inc), errorf("revoked: cut"));
  EXPECT_EQ(test::pumped_error({&vat}, later), errorf("revoked: cut"));
  EXPECT_EQ(c.call<&Counter::get>(), 0);
}

TEST(Membrane, RevokeBreaksAnAnswerStillAwaited) {
  Vat vat;
  auto p = vat.make<Pending>();
  auto [m, control] = caps::membrane(p, open_policy());
  auto w = m.send<&Pending::wait>();
  test::pump({&vat});
  EXPECT_TRUE(w.pending());
  control.revoke("stop waiting");
  EXPECT_EQ(test::pumped_error({&vat}, w), errorf("revoked: stop waiting"));
  EXPECT_EQ(test::pumped({&vat}, p.send<&Pending::release_all>(1)), 1);
}

TEST(Membrane, KeepsEOrderThroughOneReferenceAndThroughItsPromises) {
  Vat vat;
  auto rec = vat.make<Recorder>();
  auto holder = vat.make<test::Holder>();
  holder.call<&test::Holder::set>(rec);
  auto [m, control] = caps::membrane(holder, open_policy());
  auto r = m.send<&test::Holder::recorder>();  // a promise for a wrapped recorder
  for (int i = 0; i < 100; ++i) {
    r.send<&Recorder::record>(1, 1, i);
    if (i % 13 == 0) vat.run_until_idle();
  }
  Ref<Recorder> direct = test::pumped({&vat}, r);
  for (int i = 0; i < 100; ++i) direct.send<&Recorder::record>(2, 0, i);
  test::pump({&vat});
  const auto& log = rec.call<&Recorder::log>();
  ASSERT_EQ(log.size(), 200u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(log[i].seq, i);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(log[100 + i].seq, i);
}

TEST(Membrane, SameTargetWrappedTwiceIsTheSameReference) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto root = vat.make<Node>(0);
  auto box = vat.make<Box>(c);
  auto [m, control] = caps::membrane(box, open_policy());
  auto a = test::pumped({&vat}, m.send<&Box::counter>());
  auto b = test::pumped({&vat}, m.send<&Box::counter>());
  EXPECT_TRUE(a == b);
  auto [mn, nc] = caps::membrane(root, open_policy());
  EXPECT_TRUE(test::pumped({&vat}, mn.send<&Node::self>()) == mn);
}

TEST(Membrane, FreesWhatItWrappedOnRevoke) {
  Vat vat;
  auto [m, control] = caps::membrane(vat.make<Node>(0), open_policy());
  std::vector<Ref<Node>> deep;
  auto p = m.send<&Node::next>();
  for (int i = 0; i < 4; ++i) {
    deep.push_back(test::pumped({&vat}, p));
    p = deep.back().send<&Node::next>();
  }
  test::pump({&vat});
  EXPECT_EQ(vat.live_objects(), 6u);  // the root and five descendants, all held by wrappers
  control.revoke("free");
  p = {};
  test::pump({&vat});
  EXPECT_EQ(vat.live_objects(), 0u);
  EXPECT_EQ(test::pumped_error({&vat}, deep[2].send<&Node::depth>()), errorf("revoked: free"));
  deep.clear();
  m = {};
  EXPECT_EQ(control.live_wrappers(), 0u);
}

// --- Policies.

TEST(Membrane, TimeWindowCutsLiveReferencesWhenItCloses) {
  Vat vat;
  std::int64_t now = 100;
  auto window = std::make_shared<caps::TimeWindow>([&now] { return now; }, 50, 200);
  auto [m, control] = caps::membrane(vat.make<Node>(0), window);
  Ref<Node> n1 = test::pumped({&vat}, m.send<&Node::next>());
  EXPECT_EQ(test::pumped({&vat}, n1.send<&Node::depth>()), 1);
  now = 200;
  EXPECT_EQ(test::pumped_error({&vat}, n1.send<&Node::depth>()), errorf("refused: token expired"));
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Node::depth>()), errorf("refused: token expired"));
  now = 49;
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Node::depth>()), errorf("refused: token not yet valid"));
  now = 50;
  EXPECT_EQ(test::pumped({&vat}, n1.send<&Node::depth>()), 1);
}

TEST(Membrane, TimeWindowAllowsTheClockSkewOnEachSide) {
  Vat vat;
  std::int64_t now = 40;
  auto window = std::make_shared<caps::TimeWindow>([&now] { return now; }, 50, 200, 10);
  auto [m, control] = caps::membrane(vat.make<Node>(0), window);
  EXPECT_EQ(test::pumped({&vat}, m.send<&Node::depth>()), 0);  // now + skew == not_before
  now = 39;
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Node::depth>()), errorf("refused: token not yet valid"));
  now = 209;
  EXPECT_EQ(test::pumped({&vat}, m.send<&Node::depth>()), 0);
  now = 210;  // expires + skew
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Node::depth>()), errorf("refused: token expired"));
}

TEST(Membrane, TimeWindowChecksWhenAMessageLeavesNotWhenItWasSent) {
  Vat vat;
  std::int64_t now = 0;
  auto window = std::make_shared<caps::TimeWindow>([&now] { return now; }, std::nullopt, 10);
  auto [m, control] = caps::membrane(vat.make<Counter>(), window);
  auto p = m.send<&Counter::inc>(1);
  now = 10;  // expires before the message's turn
  EXPECT_EQ(test::pumped_error({&vat}, p), errorf("refused: token expired"));
}

TEST(Membrane, AllowListAppliesAtTheRootHoweverItIsReached) {
  Vat vat;
  auto root = vat.make<Node>(0);
  auto [m, control] =
      caps::membrane(root, std::make_shared<caps::AllowMethodsAtRoot>(std::vector<std::string>{"next", "self"}));
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Node::depth>()),
            errorf("refused: method depth is not allowed by this capability"));
  // A reference obtained through the root has another interface: not filtered.
  EXPECT_EQ(test::pumped({&vat}, m.send<&Node::next>().send<&Node::depth>()), 1);
  // The root handed back through a result is still the root.
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Node::self>().send<&Node::depth>()),
            errorf("refused: method depth is not allowed by this capability"));
  // A typed send of a method the class does not name cannot pass either.
  auto c = vat.make<Counter>();
  auto [mc, cc] = caps::membrane(c, std::make_shared<caps::AllowMethodsAtRoot>(std::vector<std::string>{"get"}));
  EXPECT_EQ(test::pumped_error({&vat}, mc.send<&Counter::secret>()).kind, ErrorKind::unimplemented);
}

TEST(Membrane, AllowListSeesTheRootBehindAForwarder) {
  Vat vat;
  auto root = vat.make<Node>(0);
  auto [fwd, revoker] = caps::revocable(root);
  auto [m, control] = caps::membrane(fwd, std::make_shared<caps::AllowMethodsAtRoot>(std::vector<std::string>{"self"}));
  // self() answers with the bare object behind the forwarder: still the root.
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Node::self>().send<&Node::depth>()),
            errorf("refused: method depth is not allowed by this capability"));
}

TEST(Membrane, AllowListTakesTheCallersWording) {
  Vat vat;
  auto policy = std::make_shared<caps::AllowMethodsAtRoot>(std::vector<std::string>{"get"},
                                                           "refused: method not allowed by token");
  auto [m, control] = caps::membrane(vat.make<Counter>(), policy);
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Counter::inc>(1)), errorf("refused: method not allowed by token"));
}

TEST(Membrane, AllOfComposesPoliciesFirstRefusalWins) {
  Vat vat;
  std::int64_t now = 0;
  auto policy = std::make_shared<caps::AllOf>(std::vector<std::shared_ptr<caps::MembranePolicy>>{
      std::make_shared<caps::TimeWindow>([&now] { return now; }, std::nullopt, 10),
      std::make_shared<caps::AllowMethodsAtRoot>(std::vector<std::string>{"inc"})});
  auto [m, control] = caps::membrane(vat.make<Counter>(), policy);
  EXPECT_EQ(test::pumped({&vat}, m.send<&Counter::inc>(2)), 2);
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Counter::get>()),
            errorf("refused: method get is not allowed by this capability"));
  now = 11;
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Counter::get>()), errorf("refused: token expired"));
}

class Throwing final : public caps::MembranePolicy {
 public:
  std::optional<Error> admit(std::string_view, bool) override { throw std::runtime_error("policy broke"); }
};

TEST(Membrane, APolicyThatThrowsRefusesTheCall) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [m, control] = caps::membrane(c, std::make_shared<Throwing>());
  EXPECT_EQ(test::pumped_error({&vat}, m.send<&Counter::inc>(1)), errorf("policy broke"));
  EXPECT_EQ(c.call<&Counter::get>(), 0);
}

// --- Arguments.

TEST(Membrane, UnwrapsItsOwnReferencesComingBackIn) {
  Vat vat;
  auto c = vat.make<Counter>();
  auto [m, control] = caps::membrane(vat.make<Box>(c), open_policy());
  Ref<Counter> got = test::pumped({&vat}, m.send<&Box::counter>());
  EXPECT_TRUE(test::pumped({&vat}, m.send<&Box::is_mine>(got)));
  EXPECT_TRUE(test::pumped({&vat}, m.send<&Box::is_near_arg>(got)));
}

TEST(Membrane, WrapsReferencesPassedInAndUnwrapsThemGoingBackOut) {
  Vat vat;
  auto inside = vat.make<Box>(vat.make<Counter>());
  auto outside = vat.make<Counter>();
  auto [m, control] = caps::membrane(inside, open_policy());
  // The inside sees the outside's counter only through the membrane...
  EXPECT_FALSE(test::pumped({&vat}, m.send<&Box::is_near_arg>(outside)));
  EXPECT_FALSE(test::pumped({&vat}, m.send<&Box::is_mine>(outside)));
}

// --- Attacks: no path hands the outside a bare inside reference.

struct Attack : ::testing::Test {
  Vat vat;
  Ref<Counter> bare = vat.make<Counter>();
  Ref<Box> box = vat.make<Box>(bare);
  caps::Membraned<Box> mem = caps::membrane(box, open_policy());
};

TEST_F(Attack, ThroughAResult) {
  expect_wrapped_then_cut(vat, test::pumped({&vat}, mem.ref.send<&Box::counter>()), bare, mem.control);
}

TEST_F(Attack, ThroughARecordField) {
  Pair p = test::pumped({&vat}, mem.ref.send<&Box::pair>());
  EXPECT_EQ(p.n, 7);
  expect_wrapped_then_cut(vat, p.counter, bare, mem.control);
}

TEST_F(Attack, ThroughARecordFieldReadByName) {
  Value v = test::pumped({&vat}, mem.ref.send("pair"));
  expect_wrapped_then_cut(vat, from_value<Ref<Counter>>(*v.as_record().find("counter")), bare, mem.control);
}

TEST_F(Attack, ThroughAList) {
  auto list = test::pumped({&vat}, mem.ref.send<&Box::list>());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_TRUE(list[0] == list[1]);
  expect_wrapped_then_cut(vat, list[1], bare, mem.control);
}

TEST_F(Attack, ThroughAPromiseResolvingLater) {
  auto p = mem.ref.send<&Box::later>();
  test::pump({&vat});
  EXPECT_TRUE(p.pending());
  EXPECT_EQ(test::pumped({&vat}, box.send<&Box::release>()), 1);
  expect_wrapped_then_cut(vat, test::pumped({&vat}, p), bare, mem.control);
}

TEST_F(Attack, ThroughAPromiseInsideARecord) {
  Later later = test::pumped({&vat}, mem.ref.send<&Box::later_in_record>());
  EXPECT_EQ(test::pumped({&vat}, box.send<&Box::release>()), 1);
  expect_wrapped_then_cut(vat, test::pumped({&vat}, later.counter), bare, mem.control);
}

TEST_F(Attack, ThroughACallbackArgument) {
  auto sink = vat.make<Sink>();
  test::pumped({&vat}, mem.ref.send<&Box::give_to>(sink));
  Ref<Counter> got = sink.call<&Sink::got>();
  ASSERT_TRUE(got);
  expect_wrapped_then_cut(vat, got, bare, mem.control);
  // The inside's reference to the sink passed through the membrane too.
  EXPECT_EQ(test::pumped_error({&vat}, box.send<&Box::give_again>()), errorf("revoked: attack over"));
}

TEST_F(Attack, ThroughAPipelinedFieldOfARecord) {
  auto p = mem.ref.send("pair");
  Ref<Counter> c = field<Counter>(p, "counter");
  EXPECT_EQ(test::pumped({&vat}, c.send<&Counter::inc>(1)), 1);
  mem.control.revoke("cut");
  EXPECT_EQ(test::pumped_error({&vat}, c.send<&Counter::inc>(1)), errorf("revoked: cut"));
}

// --- Far references: the membrane in one vat around an object in another.

Task<std::int64_t> pipelined_depth(Ref<Node> far) {
  auto [m, control] = caps::membrane(far, open_policy());
  co_return co_await m.send<&Node::next>().send<&Node::next>().send<&Node::depth>();
}

Task<std::string> revoke_three_deep(Ref<Node> far) {
  auto [m, control] = caps::membrane(far, open_policy());
  Ref<Node> n3 = co_await m.send<&Node::next>().send<&Node::next>().send<&Node::next>();
  std::string where = co_await n3.send<&Node::where>();
  control.revoke("far enough");
  try {
    co_await n3.send<&Node::depth>();
  } catch (const VatError& e) {
    co_return where + " / " + e.error().reason;
  }
  co_return where + " / not cut";
}

// Pipelined calls to answers not known yet: those the root would refuse wait
// to learn where they land; the others keep pipelining.
Task<std::vector<std::string>> allow_list_far(Ref<Node> far) {
  auto [m, control] = caps::membrane(
      far, std::make_shared<caps::AllowMethodsAtRoot>(std::vector<std::string>{"next", "self", "where"}));
  std::vector<std::string> out;
  out.push_back(co_await m.send<&Node::next>().send<&Node::next>().send<&Node::where>());
  out.push_back(std::to_string(co_await m.send<&Node::next>().send<&Node::depth>()));
  try {
    co_await m.send<&Node::self>().send<&Node::depth>();
    out.push_back("root reached unchecked");
  } catch (const VatError& e) {
    out.push_back(e.error().reason);
  }
  co_return out;
}

TEST(MembraneFar, AllowListHoldsForPipelinedCallsThatLandOnTheRoot) {
  VatGroup g(2);
  auto root = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
  auto out = g[1].submit([&] { return allow_list_far(root.take()); }).get();
  EXPECT_EQ(out, (std::vector<std::string>{"vat0", "1", "refused: method depth is not allowed by this capability"}));
}

TEST(MembraneFar, PipelinesThroughAFarReference) {
  VatGroup g(2);
  auto root = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
  EXPECT_EQ(g[1].submit([&] { return pipelined_depth(root.take()); }).get(), 2);
}

TEST(MembraneFar, RevokeCutsAFarReferenceThreeCallsDeepAndFreesItsTargets) {
  VatGroup g(2);
  auto root = in(g[0], [&] { return portable(g[0].make<Node>(0)); });
  EXPECT_EQ(g[1].submit([&] { return revoke_three_deep(root.take()); }).get(), "vat0 / revoked: far enough");
  EXPECT_TRUE(test::eventually(g[0], [&] { return g[0].live_objects() == 1; }));  // only the root, held by `root`
}

TEST(MembraneFar, CallbacksFromTheFarSideComeBackThroughTheMembrane) {
  VatGroup g(2);
  auto bare = in(g[0], [&] { return portable(g[0].make<Counter>()); });
  auto box = in(g[0], [&] { return portable(g[0].make<Box>(bare.take())); });
  auto sink = in(g[1], [&] { return portable(g[1].make<Sink>()); });
  std::shared_ptr<caps::MembraneControl> control;
  g[1].submit([&] {
        auto [m, c] = caps::membrane(box.take(), open_policy());
        control = std::make_shared<caps::MembraneControl>(c);
        return m.send<&Box::give_to>(sink.take());
      })
      .get();
  EXPECT_EQ(g[1].submit([&] { return sink.take().call<&Sink::got>().send<&Counter::inc>(2); }).get(), 2);
  in(g[1], [&] { control->revoke("gone"); });
  Error e =
      test::future_error(g[1], g[1].submit([&] { return sink.take().call<&Sink::got>().send<&Counter::inc>(2); }));
  EXPECT_EQ(e, errorf("revoked: gone"));
  e = test::future_error(g[0], g[0].submit([&] { return box.take().send<&Box::give_again>(); }));
  EXPECT_EQ(e, errorf("revoked: gone"));
  EXPECT_EQ(g[0].submit([&] { return bare.take().send<&Counter::get>(); }).get(), 2);
  in(g[1], [&] { control.reset(); });
}

}  // namespace
}  // namespace vatic
