// The chained loopback (spec/captp.md 5, "Chained loopback") against a cycle
// of pending promises across three vats, and against a peer that floods a vat
// with disembargoes whose replies must wait.
//
// A cycle of promises across vats is a program's bug no vat can see alone:
// X's promise waits for Y's answer, which waits for Z's, which waits for X's.
// A call sent into it circles until flow control refuses it (section 7). A
// disembargo sent into it must not circle for ever either: each vat on the
// way would chain it to the next, round after round, with a new embargo entry
// on every session each time. The spec's rule (one chain in flight per path
// of a session; later ones wait behind it) stops it after one round, and the
// reply comes once the cycle is cut.
//
//   M (raw peer, handoff) --pipe--> X --pipe--> Y --pipe--> Z --pipe--> X
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "tests/captp/captp_objects.h"
#include "tests/captp/handoff_nodes.h"
#include "tests/captp/handoff_raw_peer.h"

namespace vatic::test {
namespace {

// One vat's link of the cycle: its hop() answers with the next vat's hop(),
// except the first vat's, which answers with the promise it started the
// cycle with, so that the cycle closes through it.
class Hop : public Object {
 public:
  void set_next(Ref<Hop> next) { next_ = std::move(next); }
  void start() { kept_ = next_.send<&Hop::hop>(); }
  Promise<std::int64_t> hop() { return kept_ ? *kept_ : next_.send<&Hop::hop>(); }
  std::int64_t ping(std::int64_t x) { return x; }
  VATIC_METHODS(Hop, set_next, start, hop, ping)

 private:
  Ref<Hop> next_;
  std::optional<Promise<std::int64_t>> kept_;
};

class ChainedLoopback : public ::testing::Test, protected HandoffVats {
 protected:
  Vat vx{TwoVats::vat_options("x", nullptr)}, vy{TwoVats::vat_options("y", nullptr)},
      vz{TwoVats::vat_options("z", nullptr)};
  boost::asio::io_context mio;  // the raw peer's loop
  std::unique_ptr<captp::Node> x, y, z;
  Ref<Hop> hx, hy, hz, x_to_y, z_to_x;
  RawPeer m;
  static constexpr std::uint32_t kMaxAnswers = 4;

  ChainedLoopback() : HandoffVats{&vx, &vy, &vz} {}
  void SetUp() override {
    captp::NodeOptions xo = handoff_on();
    xo.session.max_answers = kMaxAnswers;  // bounds the disembargoes M may leave waiting
    x = std::make_unique<captp::Node>(vx, captp::Identity::generate(), xo);
    y = std::make_unique<captp::Node>(vy, captp::Identity::generate(), handoff_on());
    z = std::make_unique<captp::Node>(vz, captp::Identity::generate(), handoff_on());
    hx = vx.make<Hop>();
    hy = vy.make<Hop>();
    hz = vz.make<Hop>();
    x->set_bootstrap(hx);
    y->set_bootstrap(hy);
    z->set_bootstrap(hz);
    x_to_y = link(*x, *y);
    hx.call<&Hop::set_next>(x_to_y);
    hy.call<&Hop::set_next>(link(*y, *z));
    z_to_x = link(*z, *x);
    hz.call<&Hop::set_next>(z_to_x);
  }
  void TearDown() override {
    if (m.ch) m.ch->abort(Error{ErrorKind::disconnected, "test over"});
    hx = {};
    hy = {};
    hz = {};
    x_to_y = {};
    z_to_x = {};
    x.reset();
    y.reset();
    z.reset();
    for (int i = 0; i < 50; ++i) all();
  }
  Ref<Hop> link(captp::Node& from, captp::Node& to) {
    auto [f, t] = captp::memory_pipe(from.vat().io(), to.vat().io());
    to.accept(std::move(t));
    return from.connect<Hop>(to.id(), std::move(f));
  }
  // Every loop once; how many handlers ran.
  std::size_t all() {
    std::size_t n = vx.run_until_idle() + vy.run_until_idle() + vz.run_until_idle();
    if (mio.stopped()) mio.restart();
    return n + mio.poll();
  }
  bool until(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      all();
    }
    return true;
  }
  // Messages the three vats sent and received so far.
  std::uint64_t traffic() {
    std::uint64_t n = 0;
    for (captp::Node* node : {x.get(), y.get(), z.get()})
      if (node)
        for (const auto& s : node->sessions()) n += s.stats.messages_in + s.stats.messages_out;
    return n;
  }
  // Rounds until no vat runs a turn and no message moves for a few rounds
  // (bytes cross a pipe through posted handlers, which are not turns), at
  // most `limit`: the count, or nullopt if they were still busy (a
  // disembargo circling).
  std::optional<int> rounds_to_quiet(int limit) {
    int still = 0;
    for (int r = 0; r < limit; ++r) {
      std::uint64_t before = traffic();
      still = all() == 0 && traffic() == before ? still + 1 : 0;
      if (still == 5) return r;
    }
    return std::nullopt;
  }
  // M gets X's bootstrap over a session offering handoff.
  void connect_m() {
    auto [mp, xp] = captp::memory_pipe(mio, vx.io());
    x->accept(std::move(xp));
    ASSERT_TRUE(m.connect(mio, std::move(mp), x->id(), true, [&](const std::function<bool()>& p) { return until(p); }));
    auto boot = m.bootstrap(0, [&](const std::function<bool()>& p) { return until(p); });
    ASSERT_TRUE(boot);
    m.boot = *boot;
  }
  // Closes the cycle: X's hop waits for Y's, Y's for Z's, Z's for X's.
  void make_cycle() {
    hx.call<&Hop::start>();
    ASSERT_TRUE(rounds_to_quiet(1000)) << "the cycle itself does not settle down";
  }
  void disembargo_into_cycle(std::uint32_t qid, std::uint32_t eid, bool chained) {
    m.call(qid, m.boot, "hop");
    // The call runs first: its answer then forwards into the cycle (queued
    // in X, it would be in order with anything M sends after it anyway).
    ASSERT_TRUE(rounds_to_quiet(1000));
    m.send([&](wire::Message::Builder b) {
      auto d = b.initDisembargo();
      d.initTarget().initPromisedAnswer().setQuestionId(qid);
      if (chained) {
        d.setChainedLoopback(eid);
      } else {
        d.setSenderLoopback(eid);
      }
    });
  }
  bool replied(std::uint32_t eid) const {
    for (const Got& g : m.inbox)
      if (g.which == wire::Message::DISEMBARGO && g.id == eid) return true;
    return false;
  }
  std::uint32_t embargoes(captp::Node& n) {
    std::uint32_t total = 0;
    for (const auto& s : n.sessions()) total += s.stats.embargoes;
    return total;
  }
};

TEST_F(ChainedLoopback, ADisembargoIntoACycleOfPromisesStopsAfterOneRound) {
  connect_m();
  make_cycle();
  disembargo_into_cycle(1, 77, true);
  auto quiet = rounds_to_quiet(2000);
  ASSERT_TRUE(quiet) << "the chained loopback circles the cycle for ever";
  // One chain waits on each session of the cycle, however long it runs.
  EXPECT_LE(embargoes(*x) + embargoes(*y) + embargoes(*z), 3u);
  EXPECT_FALSE(replied(77)) << "the calls along the path never arrive: no reply";
  EXPECT_FALSE(m.abort());
  // Cut the cycle: Y leaves. The calls along the path broke with its
  // sessions; nothing is left to overtake, and X replies.
  y->close("cut the cycle");
  EXPECT_TRUE(until([&] { return replied(77); }));
  EXPECT_FALSE(m.abort());
}

TEST_F(ChainedLoopback, LaterDisembargoesWaitBehindTheChainInFlight) {
  connect_m();
  make_cycle();
  disembargo_into_cycle(1, 5, true);
  // Nothing was sent on X's session with Y since its chain went: the second
  // joins that chain's wait.
  disembargo_into_cycle(2, 6, true);
  ASSERT_TRUE(rounds_to_quiet(2000)) << "the chained loopbacks circle the cycle for ever";
  // X sends Y a call: a third disembargo along the same path must wait for a
  // chain sent after it, not for the one in flight.
  EXPECT_EQ(get(x_to_y.send<&Hop::ping>(1)), 1);
  m.send([&](wire::Message::Builder b) {
    auto d = b.initDisembargo();
    d.initTarget().initPromisedAnswer().setQuestionId(1);
    d.setChainedLoopback(7);
  });
  ASSERT_TRUE(rounds_to_quiet(2000)) << "the chained loopbacks circle the cycle for ever";
  EXPECT_LE(embargoes(*x) + embargoes(*y) + embargoes(*z), 3u);
  EXPECT_FALSE(replied(5) || replied(6) || replied(7));
  z->close("cut the cycle");
  EXPECT_TRUE(until([&] { return replied(5) && replied(6) && replied(7); }));
  EXPECT_FALSE(m.abort());
}

TEST_F(ChainedLoopback, APeerLeavingTooManyDisembargoesWaitingIsCutOffAndTheVatServesOn) {
  connect_m();
  make_cycle();
  // Each waits for the cycle; the bound is twice max_answers, as for calls.
  disembargo_into_cycle(1, 100, true);
  for (std::uint32_t i = 1; i < 2 * kMaxAnswers; ++i)
    m.send([&](wire::Message::Builder b) {
      auto d = b.initDisembargo();
      d.initTarget().initPromisedAnswer().setQuestionId(1);
      d.setChainedLoopback(100 + i);
    });
  ASSERT_TRUE(rounds_to_quiet(2000));
  EXPECT_FALSE(m.abort()) << "the bound itself is allowed";
  m.send([&](wire::Message::Builder b) {
    auto d = b.initDisembargo();
    d.initTarget().initPromisedAnswer().setQuestionId(1);
    d.setChainedLoopback(999);
  });
  ASSERT_TRUE(until([&] { return m.abort().has_value(); }));
  ASSERT_TRUE(m.abort()->error);
  EXPECT_NE(m.abort()->error->reason.find("disembargoes of this vat await their reply"), std::string::npos)
      << m.abort()->error->reason;
  // X's other sessions are untouched, and X answers on them.
  EXPECT_TRUE(until([&] { return x->sessions().size() == 2; }));
  EXPECT_EQ(get(z_to_x.send<&Hop::ping>(41)), 41);
}

}  // namespace
}  // namespace vatic::test
