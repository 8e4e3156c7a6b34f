// Three-party handoff between three vatic Nodes that reach each other only
// over unix sockets (spec/captp.md 11, H6 3): A has never talked to C, gets
// C's object through B, dials C at the hint B sent (C's announced address,
// H1, H4), and switches to it (H7, H11). Its calls then go A -> C directly,
// and they still answer once B's node has closed.
//
//   A (Node) --unix b.sock--> B (Node, Echo) --unix c.sock--> C (Node, Echo)
//   A -------------------- dialled by A at the hint ---------> C
#include "captp/node.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "tests/captp/captp_objects.h"
#include "tests/captp/handoff_nodes.h"
#include "tests/temp_dir.h"

namespace vatic::test {
namespace {

class HandoffDial : public ::testing::Test, protected HandoffVats {
 protected:
  TempDir dir{"vatic-handoff-dial"};
  Vat va{TwoVats::vat_options("a", nullptr)}, vb{TwoVats::vat_options("b", nullptr)},
      vc{TwoVats::vat_options("c", nullptr)};
  std::unique_ptr<captp::Node> a, b, c;
  Ref<Echo> b_echo, c_echo, a_to_b;
  captp::Address b_addr;

  HandoffDial() : HandoffVats{&va, &vb, &vc} {}
  void SetUp() override {
    a = std::make_unique<captp::Node>(va, captp::Identity::generate(), handoff_on());
    b = std::make_unique<captp::Node>(vb, captp::Identity::generate(), handoff_on());
    c = std::make_unique<captp::Node>(vc, captp::Identity::generate(), handoff_on());
    b_echo = vb.make<Echo>();
    c_echo = vc.make<Echo>();
    b->set_bootstrap(b_echo);
    c->set_bootstrap(c_echo);
    captp::Address c_addr = c->listen(dir.unix_address("c.sock"));
    b_addr = b->listen(dir.unix_address("b.sock"));
    // B holds C's bootstrap object.
    Ref<Echo> c_ref = b->connect<Echo>(c->id(), c_addr);
    ASSERT_EQ(get(c_ref.send<&Echo::echo>(1)), 1);
    get(b_echo.send<&Echo::hold>(c_ref));
    a_to_b = a->connect<Echo>(b->id(), b_addr);
  }
  void TearDown() override {
    a_to_b = {};
    b_echo = {};
    c_echo = {};
    a.reset();
    b.reset();
    c.reset();
    for (int i = 0; i < 50; ++i) pump();
  }
};

TEST_F(HandoffDial, ANeverIntroducedToCDialsItAndKeepsCallingAfterBCloses) {
  ASSERT_FALSE(session(*a, c->id()));
  Ref<Echo> obj = get(a_to_b.send<&Echo::held>());
  std::vector<Promise<std::int64_t>> order;
  for (int i = 1; i <= 3; ++i) order.push_back(obj.send<&Echo::order>(i));
  for (auto& p : order) get(p);
  // A dialled C (H6 3) and switched to it (H11): no fallback.
  auto ac = session(*a, c->id());
  ASSERT_TRUE(ac) << "A did not dial C";
  EXPECT_TRUE(ac->initiator);
  EXPECT_EQ(session(*a, b->id())->stats.handoffs, 1u);
  EXPECT_EQ(session(*a, b->id())->stats.handoff_fallbacks, 0u);
  EXPECT_EQ(get(c_echo.send<&Echo::seen>()), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(a->route(obj), c->id()) << "A's calls do not go to C";
  // The calls go A -> C: B forwards none of them.
  auto before = session(*b, c->id())->stats.messages_out;
  for (int i = 4; i <= 6; ++i) EXPECT_EQ(get(obj.send<&Echo::order>(i)), i);
  EXPECT_EQ(session(*b, c->id())->stats.messages_out, before) << "B forwarded calls after the switch";
  // B's node closes; A's reference lives on with its own session with C.
  b->close("B leaves");
  ASSERT_TRUE(run_until([&] { return !session(*a, b->id()); }));
  EXPECT_EQ(get(obj.send<&Echo::order>(7)), 7);
  EXPECT_EQ(get(obj.send<&Echo::echo>(42)), 42);
}

// Two handoffs to the same host, while the first dial is under way, share
// it: A ends with one session with C.
TEST_F(HandoffDial, HandoffsToOneHostShareOneDial) {
  auto first = a_to_b.send<&Echo::held>();
  auto second = a_to_b.send<&Echo::held>();
  Ref<Echo> x = get(first), y = get(second);
  EXPECT_EQ(get(x.send<&Echo::echo>(1)), 1);
  EXPECT_EQ(get(y.send<&Echo::echo>(2)), 2);
  std::size_t with_c = 0;
  for (const auto& s : a->sessions()) with_c += s.peer == c->id();
  EXPECT_EQ(with_c, 1u);
  EXPECT_EQ(session(*a, b->id())->stats.handoffs, 2u);
}

// A node at its bound of handoff dials (NodeOptions::max_handoff_dials)
// dials no more: the handoff falls back to B's proxy (H12), which answers.
TEST_F(HandoffDial, ANodeAtItsHandoffDialBoundKeepsBsProxy) {
  a_to_b = {};
  a.reset();
  captp::NodeOptions bounded = handoff_on();
  bounded.max_handoff_dials = 0;
  a = std::make_unique<captp::Node>(va, captp::Identity::generate(), bounded);
  a_to_b = a->connect<Echo>(b->id(), b_addr);
  Ref<Echo> obj = get(a_to_b.send<&Echo::held>());
  EXPECT_EQ(get(obj.send<&Echo::echo>(3)), 3);
  EXPECT_FALSE(session(*a, c->id())) << "A dialled C beyond its bound";
  auto ab = session(*a, b->id());
  ASSERT_TRUE(ab);
  EXPECT_EQ(ab->stats.handoff_fallbacks, 1u);
  EXPECT_EQ(ab->stats.handoffs, 0u);
}

// H5: while A dials C, the calls it makes go to B's proxy at once, not into a
// queue that waits for the connection; the switch that follows is embargoed
// behind them (H7), so C still sees A's calls in the order A made them.
TEST_F(HandoffDial, CallsMadeWhileADialsCGoThroughBAtOnceAndKeepTheirOrder) {
  // Only A and B run: C's node accepts no connection and answers nothing, so
  // A's dial to C cannot finish its handshake.
  auto held = a_to_b.send<&Echo::held>();
  ASSERT_TRUE(run_until([&] { return !held.pending(); }, {&va, &vb}));
  Ref<Echo> obj = held.value();
  auto forwarded = session(*b, c->id())->stats.messages_out;
  auto first = obj.send<&Echo::order>(1);
  ASSERT_TRUE(run_until([&] { return session(*b, c->id())->stats.messages_out > forwarded; }, {&va, &vb}))
      << "A's call waited for the dial instead of going through B";
  EXPECT_FALSE(session(*a, c->id())) << "the dial finished without C running";
  auto second = obj.send<&Echo::order>(2);
  // Now C runs: A's dial completes and A switches to C.
  EXPECT_EQ(get(first), 1);
  EXPECT_EQ(get(second), 2);
  ASSERT_TRUE(run_until([&] { return session(*a, b->id())->stats.handoffs == 1; }));
  EXPECT_EQ(session(*a, b->id())->stats.handoff_fallbacks, 0u);
  EXPECT_EQ(get(obj.send<&Echo::order>(3)), 3);
  EXPECT_EQ(get(c_echo.send<&Echo::seen>()), (std::vector<std::int64_t>{1, 2, 3}));
  // After the switch B forwards nothing more.
  auto before = session(*b, c->id())->stats.messages_out;
  EXPECT_EQ(get(obj.send<&Echo::order>(4)), 4);
  EXPECT_EQ(session(*b, c->id())->stats.messages_out, before) << "B forwarded calls after the switch";
}

// A node configured not to dial for handoffs (NodeOptions::handoff_dial,
// spec/captp.md 11, H6: "A MAY fall back at once instead of dialling") keeps
// B's proxy and says why.
TEST_F(HandoffDial, ANodeThatDoesNotDialForHandoffsKeepsBsProxy) {
  a_to_b = {};
  a.reset();
  captp::NodeOptions no_dial = handoff_on();
  no_dial.handoff_dial = false;
  a = std::make_unique<captp::Node>(va, captp::Identity::generate(), no_dial);
  a_to_b = a->connect<Echo>(b->id(), b_addr);
  Ref<Echo> obj = get(a_to_b.send<&Echo::held>());
  EXPECT_EQ(get(obj.send<&Echo::echo>(4)), 4);
  EXPECT_FALSE(session(*a, c->id())) << "A dialled C though configured not to";
  EXPECT_EQ(a->route(obj), b->id()) << "A's calls do not go through B's proxy";
  auto ab = session(*a, b->id());
  ASSERT_TRUE(ab);
  EXPECT_EQ(ab->stats.handoff_fallbacks, 1u);
  EXPECT_EQ(ab->stats.handoffs, 0u);
  EXPECT_NE(ab->stats.last_handoff_fallback.find("does not dial for handoffs"), std::string::npos)
      << ab->stats.last_handoff_fallback;
}

// Addresses configured to be announced (NodeOptions::announce, H1) replace
// the bound ones, in order: A tries a hint where nothing listens, then the
// next, and switches to C.
TEST_F(HandoffDial, AnnouncedAddressesReplaceTheBoundOnesInOrder) {
  a_to_b = {};
  b_echo = {};
  a.reset();
  b.reset();
  c.reset();
  captp::Address c_addr = *captp::Address::parse(dir.unix_address("c2.sock"));
  captp::NodeOptions announcing = handoff_on();
  announcing.announce = {*captp::Address::parse(dir.unix_address("nobody.sock")), c_addr};
  a = std::make_unique<captp::Node>(va, captp::Identity::generate(), handoff_on());
  b = std::make_unique<captp::Node>(vb, captp::Identity::generate(), handoff_on());
  c = std::make_unique<captp::Node>(vc, captp::Identity::generate(), announcing);
  b_echo = vb.make<Echo>();
  b->set_bootstrap(b_echo);
  c->set_bootstrap(c_echo);
  c->listen(c_addr);
  b_addr = b->listen(dir.unix_address("b2.sock"));
  Ref<Echo> c_ref = b->connect<Echo>(c->id(), c_addr);
  get(b_echo.send<&Echo::hold>(c_ref));
  a_to_b = a->connect<Echo>(b->id(), b_addr);
  Ref<Echo> obj = get(a_to_b.send<&Echo::held>());
  EXPECT_EQ(get(obj.send<&Echo::echo>(5)), 5);
  EXPECT_EQ(a->route(obj), c->id());
  EXPECT_EQ(session(*a, b->id())->stats.handoffs, 1u);
}

}  // namespace
}  // namespace vatic::test
