// Three-party handoff between three vatic Nodes (spec/captp.md 11): A gets
// an object of C from B and, holding a session with C already, switches to
// it (H6, H7, H11); or, holding none, keeps B's proxy (H12). The calls A made
// before and after the switch arrive at C in the order made, whether they
// went along B's answer (11.3, the embargoed switch) or waited in the handoff
// promise.
//
//   A (Node) --memory pipe-- B (Node) --memory pipe-- C (Node, Echo)
//   A -------------------memory pipe------------------ C     (when the test opens it)
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "tests/captp/captp_objects.h"
#include "tests/captp/handoff_nodes.h"

namespace vatic::test {
namespace {

class HandoffNodes : public ::testing::Test, protected HandoffVats {
 protected:
  Vat va{TwoVats::vat_options("a", nullptr)}, vb{TwoVats::vat_options("b", nullptr)},
      vc{TwoVats::vat_options("c", nullptr)};
  std::unique_ptr<captp::Node> a, b, c;
  Ref<Echo> b_echo, c_echo;
  Ref<Echo> a_to_b, a_to_c;

  HandoffNodes() : HandoffVats{&va, &vb, &vc} {}
  void SetUp() override {
    a = std::make_unique<captp::Node>(va, captp::Identity::generate(), handoff_on());
    b = std::make_unique<captp::Node>(vb, captp::Identity::generate(), handoff_on());
    c = std::make_unique<captp::Node>(vc, captp::Identity::generate(), handoff_on());
    b_echo = vb.make<Echo>();
    c_echo = vc.make<Echo>();
    b->set_bootstrap(b_echo);
    c->set_bootstrap(c_echo);
    auto [bc, cb] = captp::memory_pipe(vb.io(), vc.io());
    c->accept(std::move(cb));
    Ref<Echo> c_ref = b->connect<Echo>(c->id(), std::move(bc));
    auto held = b_echo.send<&Echo::hold>(c_ref);
    ASSERT_TRUE(run_until([&] { return !held.pending(); }));
    auto [ab, ba] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(ba));
    a_to_b = a->connect<Echo>(b->id(), std::move(ab));
  }
  void TearDown() override {
    a_to_b = {};
    a_to_c = {};
    b_echo = {};
    c_echo = {};
    a.reset();
    b.reset();
    c.reset();
    for (int i = 0; i < 50; ++i) pump();
  }
  void connect_a_to_c() {
    auto [ac, ca] = captp::memory_pipe(va.io(), vc.io());
    c->accept(std::move(ca));
    a_to_c = a->connect<Echo>(c->id(), std::move(ac));
    auto up = a_to_c.send<&Echo::echo>(0);
    ASSERT_TRUE(run_until([&] { return !up.pending(); }));
  }
  captp::SessionStats stats(captp::Node& n, const VatId& peer) {
    auto s = session(n, peer);
    if (!s) throw std::runtime_error("no such session");
    return s->stats;
  }
};

TEST_F(HandoffNodes, AWithASessionToCSwitchesAndBForwardsNothingAfter) {
  connect_a_to_c();
  Ref<Echo> obj = get(a_to_b.send<&Echo::held>());
  // The switch completes (H11) once the held calls can go.
  EXPECT_EQ(get(obj.send<&Echo::echo>(5)), 5);
  EXPECT_EQ(stats(*a, b->id()).handoffs, 1u);
  EXPECT_EQ(stats(*a, b->id()).handoff_fallbacks, 0u);
  // 11.4: A's reference is C's own export on S_AC: sent back to C, it
  // arrives as C's object itself, not as a proxy through anyone.
  get(a_to_c.send<&Echo::hold>(obj));
  EXPECT_TRUE(c_echo.call<&Echo::held>() == c_echo);
  c_echo.call<&Echo::hold>(Ref<Echo>{});  // an object holding itself is a cycle nothing collects
  auto before = stats(*b, c->id()).messages_out;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(obj.send<&Echo::echo>(i)), i);
  EXPECT_EQ(stats(*b, c->id()).messages_out, before) << "B forwarded calls after the switch";
  // B goes; A's reference lives on with S_AC.
  b->close("B leaves");
  for (int i = 0; i < 20; ++i) pump();
  EXPECT_EQ(get(obj.send<&Echo::echo>(9)), 9);
  // A finished its accept: nothing of the handoff stays at C.
  EXPECT_TRUE(run_until([&] { return stats(*c, a->id()).answers == 0; }));
}

TEST_F(HandoffNodes, CallsPipelinedOnBsAnswerArriveBeforeLaterCalls) {
  connect_a_to_c();
  // Calls along B's answer go to B, which forwards them to C; the answer
  // resolves to the handoff (11.3): the switch is embargoed behind them.
  auto held = a_to_b.send<&Echo::held>();
  std::vector<Promise<std::int64_t>> order;
  for (int i = 1; i <= 3; ++i) order.push_back(held.send<&Echo::order>(i));
  Ref<Echo> obj = get(held);
  for (int i = 4; i <= 6; ++i) order.push_back(obj.send<&Echo::order>(i));
  for (auto& p : order) get(p);
  EXPECT_EQ(get(c_echo.send<&Echo::seen>()), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(stats(*a, b->id()).handoffs, 1u);
}

TEST_F(HandoffNodes, AWithoutASessionToCKeepsBsProxy) {
  Ref<Echo> obj = get(a_to_b.send<&Echo::held>());
  EXPECT_EQ(get(obj.send<&Echo::echo>(7)), 7);
  EXPECT_EQ(stats(*a, b->id()).handoff_fallbacks, 1u);
  EXPECT_EQ(stats(*a, b->id()).handoffs, 0u);
  // Calls go through B, as without handoff.
  auto before = stats(*b, c->id()).messages_out;
  EXPECT_EQ(get(obj.send<&Echo::echo>(8)), 8);
  EXPECT_GT(stats(*b, c->id()).messages_out, before);
}

TEST_F(HandoffNodes, CLeavingBeforeTheAcceptAnswersFallsBackToTheVine) {
  connect_a_to_c();
  auto held = a_to_b.send<&Echo::held>();
  // Let B's answer reach A; then A's session with C ends before C answers.
  ASSERT_TRUE(run_until([&] { return !held.pending(); }));
  Ref<Echo> obj = held.value();
  a->disconnect(c->id(), "A drops C");
  auto r = obj.send<&Echo::echo>(3);
  ASSERT_TRUE(run_until([&] { return !r.pending(); }));
  // The accept was out and unanswered when S_AC ended: H12, the vine.
  EXPECT_EQ(stats(*a, b->id()).handoffs, 0u);
  EXPECT_EQ(stats(*a, b->id()).handoff_fallbacks, 1u);
  ASSERT_FALSE(r.is_broken()) << to_string(r.error());
  EXPECT_EQ(r.value(), 3);
}

}  // namespace
}  // namespace vatic::test
