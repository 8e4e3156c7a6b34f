// A disembargo whose path runs through a third vat (spec/captp.md 5,
// "Embargo", the receiver). a calls c's Echo through b's proxy, passing a's
// own object; b forwards the call to c, c answers with the reference it was
// given, and b's answer to a comes home as a's own object (receiverHosted).
// a pipelined m1 on that answer, so it embargoes and sends b a disembargo
// along the answer. At b the answer does not forward to a's object directly:
// it forwards to b's question to c, which settled to it (and, since b sent m1
// on to c through it, waits under an embargo of its own until c's loopback).
// b must accept the disembargo, and reply only once its own embargo toward c
// has lifted (m1 comes back from c through it), not abort the session with a
// (seeds 56, 60 and 110 of the simulation, tests/sim).
//
//   a (Node) --pipe-- b (Node, Echo holding c's Echo) --pipe-- c (Node, Echo)
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

struct ThreeVats : ThreeVatLoops {
  Ref<Echo> b_echo;  // b's bootstrap, as a's import
  Ref<Echo> via_c;   // c's Echo as a sees it: b's export of its import from c
  Ref<Echo> mine;    // a's own Echo, passed to c and coming home

  ThreeVats() {
    c->set_bootstrap(vc.make<Echo>());
    auto [bc, cb] = captp::memory_pipe(vb.io(), vc.io());
    c->accept(std::move(cb));
    Ref<Echo> c_echo = b->connect<Echo>(c->id(), std::move(bc));
    Ref<Echo> held = vb.make<Echo>();
    held.call<&Echo::hold>(c_echo);
    b->set_bootstrap(held);
    auto [ab, ba] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(ba));
    b_echo = a->connect<Echo>(b->id(), std::move(ab));
    via_c = get(b_echo.send<&Echo::held>());
    EXPECT_EQ(get(via_c.send<&Echo::echo>(5)), 5) << "c is not reachable through b";
    mine = va.make<Echo>(0);
  }
  ~ThreeVats() {
    b_echo = {};
    via_c = {};
    mine = {};
  }
  bool all_sessions_open() const {
    auto open = [](const captp::Node& n, std::size_t want) {
      auto s = n.sessions();
      if (s.size() != want) return false;
      for (const auto& i : s)
        if (!i.open) return false;
      return true;
    };
    return open(*a, 1) && open(*b, 2) && open(*c, 1);
  }
};

TEST(EmbargoThroughAThirdVat, DisembargoAlongAnAnswerForwardedToAThirdVatIsReflected) {
  int failures = 0;
  // Before m1: nothing, or q carried on to c and answered there first, so that
  // b reads m1 and c's answer in either order and m1 may still be at c (or on
  // its way back) when a's disembargo reaches b.
  for (const std::string before : {"", "a", "ab", "abc"}) {
    for (const std::string& after : three_vat_schedules(5)) {
      ThreeVats t;
      // q = c.same(mine), through b; m1 pipelined on q.
      Promise<Ref<Echo>> q = t.via_c.send<&Echo::same>(t.mine);
      Ref<Echo> via = from_value<Ref<Echo>>(to_value(q));
      for (char v : before) t.run(v);
      Promise<std::int64_t> o1 = via.send<&Echo::order>(1);
      for (char v : after) t.run(v);
      // m2 last: a may or may not have learned where q went.
      Promise<std::int64_t> o2 = via.send<&Echo::order>(2);
      t.drain();
      std::string what;
      try {
        t.get(o1);
        t.get(o2);
        std::vector<std::int64_t> seen = t.mine.call<&Echo::seen>();
        if (seen != std::vector<std::int64_t>{1, 2}) what = "a's object saw " + ::testing::PrintToString(seen);
      } catch (const VatError& e) {
        what = to_string(e.error());
      }
      if (what.empty() && !t.all_sessions_open()) what = "a session ended";
      if (!what.empty() && ++failures <= 5)
        ADD_FAILURE() << "schedule q " << before << " m1 " << after << " m2: " << what;
    }
  }
  EXPECT_EQ(failures, 0) << "schedules that aborted a session or broke E-order";
}

}  // namespace
}  // namespace vatic::test
