// Three-party handoff end to end (spec/captp.md 11): B, a vatic Node, holds a
// reference to an object of C, another vatic Node, over a unix socket, and
// passes it to A. A is a hand-driven vat (handoff_raw_peer.h) that accepts
// the handoff at C the way H7 says, so each test sees the introducer's and
// the host's messages and checks what B and C do: the provide before the
// descriptor (H3, H4), C's announced address as the hint (H1), the object
// returned to A in A's own terms (H10, 11.4), no traffic through B after the
// switch, the embargo relayed behind the calls that went through the vine
// (H9), and B's cancel when the vine goes (H13).
//
//   A (raw, memory pipe) ----------- B (Node, handoff) --unix socket-- C (Node, handoff, Echo)
//   A (raw, memory pipe) --------------------------------------------- C
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "tests/captp/captp_objects.h"
#include "tests/captp/handoff_raw_peer.h"
#include "tests/temp_dir.h"

namespace vatic::test {
namespace {

using namespace std::chrono_literals;

class Handoff : public ::testing::Test {
 protected:
  Vat vb{TwoVats::vat_options("b", nullptr)}, vc{TwoVats::vat_options("c", nullptr)};
  boost::asio::io_context aio;  // A's loop
  TempDir dir{"vatic-handoff"};
  std::unique_ptr<captp::Node> b, c;
  Ref<Echo> b_echo, c_echo;
  captp::Address c_addr;
  RawPeer a;
  std::uint32_t a_b_boot = 0, a_c_boot = 0;  // the bootstrap objects' export ids on A's sessions

  static captp::NodeOptions handoff_on() {
    captp::NodeOptions o;
    o.session.handoff = true;
    return o;
  }

  void SetUp() override {
    b = std::make_unique<captp::Node>(vb, captp::Identity::generate(), handoff_on());
    c = std::make_unique<captp::Node>(vc, captp::Identity::generate(), handoff_on());
    b_echo = vb.make<Echo>();
    c_echo = vc.make<Echo>();
    b->set_bootstrap(b_echo);
    c->set_bootstrap(c_echo);
    c_addr = c->listen("unix:" + (dir / "c.sock").string());
    // B holds C's bootstrap object, and has used it (so B's session with C
    // has carried calls before the handoff).
    Ref<Echo> c_ref = b->connect<Echo>(c->id(), c_addr);
    auto used = c_ref.send<&Echo::order>(100);
    ASSERT_TRUE(run_until([&] { return !used.pending(); }));
    auto held = b_echo.send<&Echo::hold>(c_ref);
    ASSERT_TRUE(run_until([&] { return !held.pending(); }));
  }
  void TearDown() override {
    if (a.ch) a.ch->abort(Error{ErrorKind::disconnected, "test over"});
    b_echo = {};
    c_echo = {};
    b.reset();
    c.reset();
    for (int i = 0; i < 50; ++i) pump();
  }

  void pump() {
    vb.run_until_idle();
    vc.run_until_idle();
    if (aio.stopped()) aio.restart();
    aio.poll();
  }
  bool run_until(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      pump();
    }
    return true;
  }
  std::function<bool(const std::function<bool()>&)> runner() {
    return [this](const std::function<bool()>& p) { return run_until(p); };
  }
  void settle() {
    for (int i = 0; i < 30; ++i) pump();
  }

  // A's sessions with B and C (each over its own memory pipe).
  void connect_a(bool handoff = true) {
    auto [ab, b_end] = captp::memory_pipe(aio, vb.io());
    b->accept(std::move(b_end));
    ASSERT_TRUE(a.connect(aio, std::move(ab), b->id(), handoff, runner()));
    auto boot = a.bootstrap(0, runner());
    ASSERT_TRUE(boot);
    a_b_boot = *boot;
  }
  // A's session with C: a second RawPeer presenting A's identity.
  RawPeer a_to_c;
  void connect_a_to_c() {
    auto [ac, c_end] = captp::memory_pipe(aio, vc.io());
    c->accept(std::move(c_end));
    ASSERT_TRUE(a_to_c.connect(aio, std::move(ac), c->id(), true, runner(), &a.identity));
    auto boot = a_to_c.bootstrap(0, runner());
    ASSERT_TRUE(boot);
    a_c_boot = *boot;
  }
  // A asks B for what it holds (question `qid`): the descriptor B sends.
  std::optional<Got::ThirdParty> fetch_from_b(std::uint32_t qid) {
    a.call(qid, a_b_boot, "held");
    if (!run_until([&] { return a.return_of(qid).has_value(); })) return std::nullopt;
    a.send([&](wire::Message::Builder m) { m.initFinish().setQuestionId(qid); });
    return a.return_of(qid)->third_party;
  }
  void accept_at_c(std::uint32_t qid, const Got::ThirdParty& t, bool embargo) {
    a_to_c.send([&](wire::Message::Builder m) {
      auto x = m.initAccept();
      x.setQuestionId(qid);
      x.setProvider(bytes_of(b->id().bytes()));
      x.setNonce(bytes_of(t.nonce));
      x.setEmbargo(embargo);
    });
  }
  captp::SessionInfo session(captp::Node& n, const VatId& peer) {
    for (const auto& s : n.sessions())
      if (s.peer == peer) return s;
    throw std::runtime_error("no such session");
  }
};

TEST_F(Handoff, AGetsCsObjectThroughBAndCallsGoToCDirectly) {
  connect_a();
  connect_a_to_c();
  auto t = fetch_from_b(1);
  ASSERT_TRUE(t) << "B proxied instead of handing off";
  // H4: C as B's session authenticated it, and C's announced address (H1).
  EXPECT_EQ(t->host, std::vector<std::uint8_t>(c->id().bytes().begin(), c->id().bytes().end()));
  EXPECT_EQ(t->instance, std::vector<std::uint8_t>(c->instance().bytes.begin(), c->instance().bytes.end()));
  EXPECT_EQ(t->hints, std::vector<std::string>{c_addr.to_string()});
  EXPECT_EQ(t->nonce.size(), 32u);
  EXPECT_EQ(session(*c, b->id()).stats.provisions, 1u);

  accept_at_c(2, *t, /*embargo=*/false);
  ASSERT_TRUE(run_until([&] { return a_to_c.return_of(2).has_value(); }));
  auto r = *a_to_c.return_of(2);
  ASSERT_TRUE(r.sender_hosted) << (r.error ? to_string(*r.error) : "no reference");
  // 11.4: A already imports C's bootstrap object: the same export id.
  EXPECT_EQ(*r.sender_hosted, a_c_boot);
  // B learns the outcome (H10 5) and its provide is over.
  ASSERT_TRUE(run_until([&] { return session(*b, c->id()).stats.questions == 0; }));
  EXPECT_EQ(session(*c, b->id()).stats.provisions, 0u);

  // A's calls now go A -> C: B forwards none of them.
  auto before = session(*b, c->id()).stats.messages_out;
  for (std::uint32_t q = 3; q < 6; ++q) a_to_c.call(q, *r.sender_hosted, "echo", q);
  ASSERT_TRUE(run_until([&] { return a_to_c.return_of(5).has_value(); }));
  EXPECT_EQ(a_to_c.return_of(5)->int_value, 5);
  settle();
  EXPECT_EQ(session(*b, c->id()).stats.messages_out, before);

  // B goes away; A's reference to C still answers.
  b->close("B leaves");
  settle();
  a_to_c.call(6, *r.sender_hosted, "echo", 6);
  ASSERT_TRUE(run_until([&] { return a_to_c.return_of(6).has_value(); }));
  EXPECT_EQ(a_to_c.return_of(6)->int_value, 6);
}

TEST_F(Handoff, CallsThroughTheVineArriveBeforeCallsMadeAfterTheSwitch) {
  connect_a();
  connect_a_to_c();
  auto t = fetch_from_b(1);
  ASSERT_TRUE(t);
  // A calls through the vine (B forwards to C) ...
  a.call(2, t->vine, "order", 1);
  a.call(3, t->vine, "order", 2);
  // ... then switches: the disembargo to B behind them (H7), the embargoed
  // accept to C. C may have read neither forwarded call yet.
  auto no = t->nonce;
  a.send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(t->vine);
    d.setAccept(bytes_of(no));
  });
  accept_at_c(10, *t, /*embargo=*/true);
  ASSERT_TRUE(run_until([&] { return a_to_c.return_of(10).has_value(); }));
  ASSERT_TRUE(a_to_c.return_of(10)->sender_hosted);
  // C answered only after B relayed, which B did behind the forwarded calls.
  EXPECT_EQ(c_echo.call<&Echo::seen>(), (std::vector<std::int64_t>{100, 1, 2}));
  a_to_c.call(11, *a_to_c.return_of(10)->sender_hosted, "order", 3);
  ASSERT_TRUE(run_until([&] { return a_to_c.return_of(11).has_value(); }));
  EXPECT_EQ(c_echo.call<&Echo::seen>(), (std::vector<std::int64_t>{100, 1, 2, 3}));
}

TEST_F(Handoff, EmbargoedAcceptWithoutTheRelayIsNotAnswered) {
  connect_a();
  connect_a_to_c();
  auto t = fetch_from_b(1);
  ASSERT_TRUE(t);
  accept_at_c(10, *t, /*embargo=*/true);
  settle();
  EXPECT_FALSE(a_to_c.return_of(10)) << "C let the accept overtake calls still on their way through B";
  EXPECT_EQ(session(*c, b->id()).stats.provisions, 1u);
}

TEST_F(Handoff, ReleasingTheVineCancelsTheProvide) {
  connect_a();
  auto t = fetch_from_b(1);
  ASSERT_TRUE(t);
  EXPECT_EQ(session(*c, b->id()).stats.provisions, 1u);
  // H13: A drops its only reference (the vine) without accepting.
  a.send([&](wire::Message::Builder m) {
    auto r = m.initRelease();
    r.setId(t->vine);
    r.setCount(1);
  });
  ASSERT_TRUE(run_until([&] { return session(*c, b->id()).stats.provisions == 0; }));
  ASSERT_TRUE(run_until([&] { return session(*b, c->id()).stats.questions == 0; }));
}

TEST_F(Handoff, BLeavingBeforeTheAcceptEndsTheProvision) {
  connect_a();
  connect_a_to_c();
  auto t = fetch_from_b(1);
  ASSERT_TRUE(t);
  b->close("B leaves");
  ASSERT_TRUE(run_until([&] { return c->sessions().size() == 1; }));
  accept_at_c(2, *t, false);
  ASSERT_TRUE(run_until([&] { return a_to_c.return_of(2).has_value(); }));
  ASSERT_TRUE(a_to_c.return_of(2)->error);
  EXPECT_EQ(*a_to_c.return_of(2)->error, (Error{ErrorKind::failed, "no provision for this accept"}));
}

TEST_F(Handoff, PeerWithoutTheFeatureGetsAProxy) {
  connect_a(/*handoff=*/false);
  a.call(1, a_b_boot, "held");
  ASSERT_TRUE(run_until([&] { return a.return_of(1).has_value(); }));
  EXPECT_FALSE(a.return_of(1)->third_party);
  ASSERT_TRUE(a.return_of(1)->sender_hosted);
  EXPECT_EQ(session(*c, b->id()).stats.provisions, 0u);
  a.call(2, *a.return_of(1)->sender_hosted, "echo", 9);
  ASSERT_TRUE(run_until([&] { return a.return_of(2).has_value(); }));
  EXPECT_EQ(a.return_of(2)->int_value, 9);
}

// 11.7: C is B (B passes its own object) and C is A (B passes back one of
// A's own): neither is a handoff.
TEST_F(Handoff, OwnObjectsOfTheIntroducerOrTheRecipientAreNotHandedOff) {
  connect_a();
  a.call(1, a_b_boot, "next");
  ASSERT_TRUE(run_until([&] { return a.return_of(1).has_value(); }));
  EXPECT_TRUE(a.return_of(1)->sender_hosted);
  EXPECT_FALSE(a.return_of(1)->third_party);
  a.send([&](wire::Message::Builder m) {
    auto call = m.initCall();
    call.setQuestionId(2);
    call.initTarget().setImportedCap(a_b_boot);
    call.setMethod("same");
    call.initArgs(1)[0].initCap().setSenderHosted(7);
  });
  ASSERT_TRUE(run_until([&] { return a.return_of(2).has_value(); }));
  EXPECT_EQ(a.return_of(2)->receiver_hosted, 7u);
}

// B as the recipient, with calls held in its handoff promise when A asks it
// to reflect a disembargo (H7, last paragraph). Found by `vatic_sim --seeds
// 2000 --handoff`, seed 1530 (and 1684): A passed B a promise of its own
// (P, an answer of C's still pending), B's answer returned it, A called
// along that answer, P settled to C's object, and A handed it to B. B's
// handoff promise held A's call until C answered B's accept, but B reflected
// A's disembargo at once, so A's next call, sent straight to C, overtook the
// held one. Seed 2432 then found the reply too early still: sent as soon
// as the held call left for C, so that A's next call could reach C first.
TEST_F(Handoff, DisembargoThroughTheRecipientsHandoffPromiseWaitsForItsHeldCalls) {
  connect_a();
  connect_a_to_c();
  // A -> B: same(P), P our promise export 7; B's answer names it back.
  a.send([&](wire::Message::Builder m) {
    auto call = m.initCall();
    call.setQuestionId(1);
    call.initTarget().setImportedCap(a_b_boot);
    call.setMethod("same");
    call.initArgs(1)[0].initCap().setSenderPromise(7);
  });
  ASSERT_TRUE(run_until([&] { return a.return_of(1).has_value(); }));
  ASSERT_EQ(a.return_of(1)->receiver_hosted, 7u);
  // P settles to C's bootstrap object, which A hands to B (A the
  // introducer, H3, H4): the provide to C, then the resolve to B.
  std::vector<std::uint8_t> nonce(32, 0x42);
  a_to_c.send([&](wire::Message::Builder m) {
    auto p = m.initProvide();
    p.setQuestionId(1);
    p.initTarget().setImportedCap(a_c_boot);
    p.setRecipient(bytes_of(b->id().bytes()));
    p.setNonce(bytes_of(nonce));
  });
  a.send([&](wire::Message::Builder m) {
    auto r = m.initResolve();
    r.setPromiseId(7);
    auto t = r.initValue().initCap().initThirdPartyHosted();
    t.setHost(bytes_of(c->id().bytes()));
    t.setHostInstance(bytes_of(c->instance().bytes));
    t.setNonce(bytes_of(nonce));
    t.setVine(8);
  });
  // A call along B's answer (to P, so into B's handoff promise, which holds
  // it until C answers B's accept), then the disembargo: A's answer settled
  // to P, of its own, so A embargoes it (section 5).
  a.send([&](wire::Message::Builder m) {
    auto call = m.initCall();
    call.setQuestionId(2);
    call.initTarget().initPromisedAnswer().setQuestionId(1);
    call.setMethod("order");
    call.initArgs(1)[0].setInt(1);
  });
  a.send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().initPromisedAnswer().setQuestionId(1);
    d.setSenderLoopback(0);
  });
  auto reflected = [&] {
    for (const Got& g : a.inbox)
      if (g.which == wire::Message::DISEMBARGO) return true;
    return false;
  };
  // C says nothing yet: B's handoff promise still holds the call, so B
  // must not reflect the disembargo.
  for (int i = 0; i < 30; ++i) {
    vb.run_until_idle();
    if (aio.stopped()) aio.restart();
    aio.poll();
  }
  EXPECT_FALSE(reflected()) << "B reflected the disembargo while its handoff promise held a call";
  // C answers B's accept: B's handoff promise sends the held call to C, over
  // B's session with C, not back through A. That it left B proves nothing
  // about when C gets it, and A's next calls go to C over A's own session:
  // B replies only after a round trip with C (spec/captp.md 5, "Chained
  // loopback"; sim seed 2432). So while C does not run, no reply.
  auto end = std::chrono::steady_clock::now() + 10s;
  while (session(*b, a.id()).stats.handoffs == 0 && std::chrono::steady_clock::now() < end) {
    vc.run_until_idle();
    vb.run_until_idle();
  }
  ASSERT_EQ(session(*b, a.id()).stats.handoffs, 1u);
  for (int i = 0; i < 30; ++i) {
    vb.run_until_idle();
    if (aio.stopped()) aio.restart();
    aio.poll();
  }
  EXPECT_FALSE(reflected()) << "B reflected the disembargo before C had the call its handoff promise held";
  // Once C has the held call, the reply.
  ASSERT_TRUE(run_until(reflected));
  EXPECT_EQ(c_echo.call<&Echo::seen>(), (std::vector<std::int64_t>{100, 1}));
  // A's calls now go straight to C, after the one that went through B.
  a_to_c.call(3, a_c_boot, "order", 2);
  ASSERT_TRUE(run_until([&] { return a_to_c.return_of(3).has_value() && a.return_of(2).has_value(); }));
  EXPECT_EQ(c_echo.call<&Echo::seen>(), (std::vector<std::int64_t>{100, 1, 2}));
  EXPECT_EQ(session(*b, a.id()).stats.handoffs, 1u);
}

// A vatic Node as the recipient, with no session with C, dials C at the
// hint B sent (H6 3); when nothing answers there (C's socket file is gone,
// its listener still runs) it falls back to the vine (H12), logs why, and
// its calls reach C through B.
TEST_F(Handoff, NodeRecipientWhoseDialFailsFallsBackToTheVineAndLogsIt) {
  std::vector<LogEvent> logged;
  VatOptions ao = TwoVats::vat_options("a", nullptr);
  ao.log = LogOptions{[&](const LogEvent& e) { logged.push_back(e); }, LogLevel::info};
  Vat va{std::move(ao)};
  std::filesystem::remove(dir / "c.sock");
  auto an = std::make_unique<captp::Node>(va, captp::Identity::generate(), handoff_on());
  {
    auto [ab, b_end] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(b_end));
    Ref<Echo> to_b = an->connect<Echo>(b->id(), std::move(ab));
    auto held = to_b.send<&Echo::held>();
    auto answer = held.send<&Echo::echo>(12);
    auto end = std::chrono::steady_clock::now() + 10s;
    while (answer.pending() && std::chrono::steady_clock::now() < end) {
      va.run_until_idle();
      pump();
    }
    ASSERT_FALSE(answer.pending());
    EXPECT_EQ(answer.value(), 12);
    auto s = an->sessions()[0].stats;
    EXPECT_EQ(s.handoff_fallbacks, 1u);
    EXPECT_EQ(an->sessions().size(), 1u) << "A reached C though its socket is gone";
    auto fell =
        std::find_if(logged.begin(), logged.end(), [](const LogEvent& e) { return e.event == "handoff.fallback"; });
    ASSERT_NE(fell, logged.end());
    EXPECT_EQ(*fell->field("host"), c->id().to_text());
    EXPECT_EQ(*fell->field("introducer"), b->id().to_text());
    EXPECT_NE(fell->field("reason")->find("no hint reached the host"), std::string::npos) << *fell->field("reason");
  }
  // A dropped everything: B cancels its provide (H13).
  for (int i = 0; i < 50; ++i) {
    va.run_until_idle();
    pump();
  }
  an.reset();
  for (int i = 0; i < 20; ++i) {
    va.run_until_idle();
    pump();
  }
  EXPECT_TRUE(run_until([&] { return session(*c, b->id()).stats.provisions == 0; }));
}

}  // namespace
}  // namespace vatic::test
