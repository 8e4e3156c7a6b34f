// Onward handoff (spec/captp.md 11.7): A passes C's object on to D before its
// own handoff from B has completed. D then holds a promise of A's (the handoff
// promise R, sent as senderPromise), and when R switches to C, A's resolve
// hands the object off again, A being the introducer: D dials C and its calls
// go D -> C, in the order D made them, and they still answer once both
// introducers (B and A) have gone.
//
//   D --unix a.sock--> A --unix b.sock--> B --unix c.sock--> C (Echo)
//   A ------------ dialled by A at C's hint ---------------> C
//   D ------------ dialled by D at C's hint ---------------> C
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "captp/node.h"
#include "tests/captp/captp_objects.h"
#include "tests/captp/handoff_nodes.h"
#include "tests/temp_dir.h"

namespace vatic::test {
namespace {

class HandoffOnward : public ::testing::Test, protected HandoffVats {
 protected:
  TempDir dir{"vatic-handoff-onward"};
  Vat va{TwoVats::vat_options("a", nullptr)}, vb{TwoVats::vat_options("b", nullptr)},
      vc{TwoVats::vat_options("c", nullptr)}, vd{TwoVats::vat_options("d", nullptr)};
  std::unique_ptr<captp::Node> a, b, c, d;
  Ref<Echo> a_echo, b_echo, c_echo, a_to_b, d_to_a;

  HandoffOnward() : HandoffVats{&va, &vb, &vc, &vd} {}

  void SetUp() override {
    a = std::make_unique<captp::Node>(va, captp::Identity::generate(), handoff_on());
    b = std::make_unique<captp::Node>(vb, captp::Identity::generate(), handoff_on());
    c = std::make_unique<captp::Node>(vc, captp::Identity::generate(), handoff_on());
    d = std::make_unique<captp::Node>(vd, captp::Identity::generate(), handoff_on());
    a_echo = va.make<Echo>();
    b_echo = vb.make<Echo>();
    c_echo = vc.make<Echo>();
    a->set_bootstrap(a_echo);
    b->set_bootstrap(b_echo);
    c->set_bootstrap(c_echo);
    captp::Address c_addr = c->listen(dir.unix_address("c.sock"));
    captp::Address b_addr = b->listen(dir.unix_address("b.sock"));
    captp::Address a_addr = a->listen(dir.unix_address("a.sock"));
    Ref<Echo> c_ref = b->connect<Echo>(c->id(), c_addr);
    get(b_echo.send<&Echo::hold>(c_ref));
    a_to_b = a->connect<Echo>(b->id(), b_addr);
    d_to_a = d->connect<Echo>(a->id(), a_addr);
    get(d_to_a.send<&Echo::echo>(0));
  }
  void TearDown() override {
    a_to_b = d_to_a = a_echo = b_echo = c_echo = {};
    for (auto* n : {&a, &b, &c, &d}) n->reset();
    for (int i = 0; i < 50; ++i) pump();
  }
};

TEST_F(HandoffOnward, APassesCsObjectOnToDWhichEndsUpCallingCDirectly) {
  // A passes what B gave it on at once: its handoff promise, most likely
  // still pending (it dials C), else its own import from C.
  auto held = a_to_b.send<&Echo::held>();
  auto passed = held.then([this](Ref<Echo> r) { return a_echo.send<&Echo::hold>(r); });
  get(passed);
  Ref<Echo> at_a = held.value();
  Ref<Echo> at_d = get(d_to_a.send<&Echo::held>());
  auto first = at_d.send<&Echo::order>(1);
  auto second = at_d.send<&Echo::order>(2);
  EXPECT_EQ(get(first), 1);
  EXPECT_EQ(get(second), 2);
  ASSERT_TRUE(run_until([&] { return session(*d, a->id())->stats.handoffs == 1; }))
      << "D did not complete a handoff from A: " << session(*d, a->id())->stats.last_handoff_fallback;
  EXPECT_EQ(session(*a, b->id())->stats.handoffs, 1u);
  EXPECT_EQ(session(*a, b->id())->stats.handoff_fallbacks, 0u) << session(*a, b->id())->stats.last_handoff_fallback;
  EXPECT_EQ(session(*d, a->id())->stats.handoff_fallbacks, 0u);
  ASSERT_TRUE(session(*d, c->id())) << "D did not dial C";
  EXPECT_EQ(get(at_d.send<&Echo::order>(3)), 3);
  EXPECT_EQ(get(c_echo.send<&Echo::seen>()), (std::vector<std::int64_t>{1, 2, 3}));
  // Both introducers leave; D's reference is D's own import from C.
  a_to_b = d_to_a = a_echo = b_echo = {};
  at_a = {};
  b->close("B leaves");
  a->close("A leaves");
  ASSERT_TRUE(run_until([&] { return !session(*d, a->id()) && !session(*c, b->id()); }));
  EXPECT_EQ(get(at_d.send<&Echo::order>(4)), 4);
  EXPECT_EQ(get(at_d.send<&Echo::echo>(42)), 42);
}

// The same with A's handoff promise certainly pending when it goes to D: C
// does not run at first, so A's dial cannot finish. D's call, pipelined on
// A's answer, goes through A's promise to B's proxy at once (H5); D's answer
// settles only when A's promise does (a promise following a promise), and
// once C runs both handoffs complete and C sees D's calls in order.
TEST_F(HandoffOnward, AHandoffPromiseStillDiallingIsPassedOnAndDsCallsGoThroughBMeanwhile) {
  auto held = a_to_b.send<&Echo::held>();
  ASSERT_TRUE(run_until([&] { return !held.pending(); }, {&va, &vb, &vd}));
  auto passed = a_echo.send<&Echo::hold>(held.value());
  ASSERT_TRUE(run_until([&] { return !passed.pending(); }, {&va, &vb, &vd}));
  auto forwarded = session(*b, c->id())->stats.messages_out;
  auto at_d = d_to_a.send<&Echo::held>();
  auto first = at_d.send<&Echo::order>(1);
  ASSERT_TRUE(run_until([&] { return session(*b, c->id())->stats.messages_out > forwarded; }, {&va, &vb, &vd}))
      << "D's call waited for A's dial instead of going through B";
  EXPECT_TRUE(at_d.pending()) << "D's answer settled before A's handoff promise";
  EXPECT_FALSE(session(*a, c->id()));
  EXPECT_FALSE(session(*d, c->id()));
  // C runs.
  EXPECT_EQ(get(first), 1);
  ASSERT_TRUE(run_until([&] { return !at_d.pending() && session(*d, a->id())->stats.handoffs == 1; }))
      << "D did not complete a handoff from A: " << session(*d, a->id())->stats.last_handoff_fallback;
  EXPECT_EQ(session(*a, b->id())->stats.handoffs, 1u);
  EXPECT_EQ(session(*a, b->id())->stats.handoff_fallbacks, 0u) << session(*a, b->id())->stats.last_handoff_fallback;
  EXPECT_EQ(get(at_d.value().send<&Echo::order>(2)), 2);
  EXPECT_EQ(get(c_echo.send<&Echo::seen>()), (std::vector<std::int64_t>{1, 2}));
}

}  // namespace
}  // namespace vatic::test
