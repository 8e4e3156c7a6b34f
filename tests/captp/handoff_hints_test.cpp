// Where a handoff recipient dials a host that announces no address (spec/
// captp.md 11, H4): at the address the introducer dialled it at. (Announced
// and configured addresses: handoff_dial_test.cpp.)
//
//   A (Node) --unix b.sock--> B (Node, Echo) --dials C--> C (Node, Echo)
//   A ----------- dialled by A at the hint B passed on --> C
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "captp/node.h"
#include "tests/captp/captp_objects.h"
#include "tests/captp/handoff_nodes.h"
#include "tests/temp_dir.h"

namespace vatic::test {
namespace {

class HandoffHints : public ::testing::Test, protected HandoffVats {
 protected:
  TempDir dir{"vatic-handoff-hints"};
  Vat va{TwoVats::vat_options("a", nullptr)}, vb{TwoVats::vat_options("b", nullptr)},
      vc{TwoVats::vat_options("c", nullptr)};
  std::unique_ptr<captp::Node> a, b, c;
  Ref<Echo> b_echo, c_echo, a_to_b;

  HandoffHints() : HandoffVats{&va, &vb, &vc} {}

  // C listens on `listen`, announcing `announce` (or its bound addresses);
  // B dials C at the address C is bound to and holds its bootstrap object.
  void start(const std::string& listen, captp::NodeOptions c_options) {
    a = std::make_unique<captp::Node>(va, captp::Identity::generate(), handoff_on());
    b = std::make_unique<captp::Node>(vb, captp::Identity::generate(), handoff_on());
    c = std::make_unique<captp::Node>(vc, captp::Identity::generate(), c_options);
    b_echo = vb.make<Echo>();
    c_echo = vc.make<Echo>();
    b->set_bootstrap(b_echo);
    c->set_bootstrap(c_echo);
    captp::Address bound = c->listen(listen);
    if (bound.kind == captp::Address::Kind::tcp) bound.host = "127.0.0.1";  // the wildcard, dialled on loopback
    Ref<Echo> c_ref = b->connect<Echo>(c->id(), bound);
    ASSERT_EQ(get(c_ref.send<&Echo::echo>(1)), 1);
    get(b_echo.send<&Echo::hold>(c_ref));
    a_to_b = a->connect<Echo>(b->id(), b->listen(dir.unix_address("b.sock")));
  }
  void TearDown() override {
    a_to_b = b_echo = c_echo = {};
    for (auto* n : {&a, &b, &c}) n->reset();
    for (int i = 0; i < 50; ++i) pump();
  }
};

// C binds the wildcard, which it does not announce; B passes on the address
// it dialled C at (H4), and A reaches C there.
TEST_F(HandoffHints, AHostThatAnnouncesNothingIsReachedAtTheAddressTheIntroducerDialled) {
  start("0.0.0.0:0", handoff_on());
  Ref<Echo> obj = get(a_to_b.send<&Echo::held>());
  EXPECT_EQ(get(obj.send<&Echo::echo>(7)), 7);
  ASSERT_TRUE(run_until([&] {
    auto s = session(*a, b->id());
    return s && s->stats.handoffs + s->stats.handoff_fallbacks > 0;
  }));
  EXPECT_EQ(session(*a, b->id())->stats.handoffs, 1u) << session(*a, b->id())->stats.last_handoff_fallback;
  ASSERT_TRUE(session(*a, c->id())) << "A did not dial C";
}

}  // namespace
}  // namespace vatic::test
