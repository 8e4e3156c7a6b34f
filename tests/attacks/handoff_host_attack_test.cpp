// The host's side of three-party handoff (spec/captp.md 11, H8, H10, H14)
// against peers that write the protocol by hand: bob, the introducer, sends
// provide and disembargo; alice, the recipient, sends accept; eve holds a
// session of her own and tries to spend provisions made for alice. Each is a
// genuine handshake offering `handoff`, so the host speaks it on all three.
// The host's vat reads a ManualClock, so provisions and waiting accepts expire
// exactly when the test moves time past their deadlines.
//
//   bob   (SecureChannel, hand-built wire::Message) --memory pipe--+
//   alice (SecureChannel, hand-built wire::Message) --memory pipe--+--> host Node (Echo bootstrap, handoff on)
//   eve   (SecureChannel, hand-built wire::Message) --memory pipe--+
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "captp/internal/net/channel.h"
#include "captp/internal/wire.h"
#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "tests/captp/captp_objects.h"
#include "tests/captp/handoff_raw_peer.h"

namespace vatic::test {
namespace {

using namespace std::chrono_literals;

struct WithManualClock {
  ManualClock clock;
};

class HandoffHost : public WithManualClock, public ::testing::Test {
 protected:
  Vat host_vat{VatOptions{.name = "host", .clock = &clock, .spin_before_block = Duration::zero()}};
  boost::asio::io_context mio;  // the raw peers' loop
  std::unique_ptr<captp::Node> host;
  Ref<Echo> echo;
  RawPeer bob, alice, eve;

  static constexpr std::size_t kMaxProvisions = 4;
  static constexpr std::size_t kMaxWaiting = 2;

  void SetUp() override {
    captp::NodeOptions o;
    o.session.handoff = true;
    o.session.max_provisions = kMaxProvisions;
    o.session.max_waiting_accepts = kMaxWaiting;
    o.channel.idle_timeout = Duration::zero();  // the test moves the host's clock by minutes
    host = std::make_unique<captp::Node>(host_vat, captp::Identity::generate(), o);
    echo = host_vat.make<Echo>();
    host->set_bootstrap(echo);
    for (RawPeer* p : {&bob, &alice, &eve}) connect(*p);
  }
  void TearDown() override {
    for (RawPeer* p : {&bob, &alice, &eve})
      if (p->ch) p->ch->abort(Error{ErrorKind::disconnected, "test over"});
    echo = {};
    host.reset();
    for (int i = 0; i < 20; ++i) pump();
  }

  void connect(RawPeer& p) {
    auto [m, h] = captp::memory_pipe(mio, host_vat.io());
    host->accept(std::move(h));
    captp::ChannelOptions co;
    co.offer_handoff = true;
    bool done = false;
    captp::SecureChannel::initiate(mio, std::move(m), p.identity, host->id(), co,
                                   [&](std::shared_ptr<captp::SecureChannel> c, Error* e) {
                                     done = true;
                                     if (e) ADD_FAILURE() << "handshake: " << e->reason;
                                     p.ch = std::move(c);
                                   });
    ASSERT_TRUE(run_until([&] { return done; }));
    ASSERT_TRUE(p.ch);
    ASSERT_TRUE(p.ch->negotiated().has(captp::Feature::handoff));
    RawPeer* raw = &p;
    p.ch->start([raw](std::span<const std::uint8_t> b) { raw->receive(b); },
                [raw](const Error& e) { raw->closed = e; });
    p.send([](wire::Message::Builder m) { m.initBootstrap().setQuestionId(0); });
    ASSERT_TRUE(run_until([&] { return p.return_of(0).has_value(); }));
    ASSERT_TRUE(p.return_of(0)->sender_hosted);
    p.boot = *p.return_of(0)->sender_hosted;
    p.send([](wire::Message::Builder m) { m.initFinish().setQuestionId(0); });
  }

  void pump() {
    host_vat.run_until_idle();
    if (mio.stopped()) mio.restart();
    mio.poll();
  }
  bool run_until(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      pump();
    }
    return true;
  }
  void settle() {
    for (int i = 0; i < 20; ++i) pump();
  }
  void advance(Duration d) {
    clock.advance(d);
    settle();
  }

  static std::vector<std::uint8_t> nonce(std::uint8_t n) { return std::vector<std::uint8_t>(32, n); }

  // bob: keep his import of the host's bootstrap object for `recipient`.
  void provide(std::uint32_t qid, const VatId& recipient, std::uint8_t n) {
    auto no = nonce(n);
    bob.send([&](wire::Message::Builder m) {
      auto p = m.initProvide();
      p.setQuestionId(qid);
      p.initTarget().setImportedCap(bob.boot);
      p.setRecipient(bytes_of(recipient.bytes()));
      p.setNonce(bytes_of(no));
    });
  }
  void accept(RawPeer& from, std::uint32_t qid, std::uint8_t n, bool embargo = false, const VatId* provider = nullptr) {
    auto no = nonce(n);
    from.send([&](wire::Message::Builder m) {
      auto a = m.initAccept();
      a.setQuestionId(qid);
      a.setProvider(bytes_of((provider ? *provider : bob.id()).bytes()));
      a.setNonce(bytes_of(no));
      a.setEmbargo(embargo);
    });
  }
  std::optional<Got> await_return(RawPeer& p, std::uint32_t qid) {
    run_until([&] { return p.return_of(qid).has_value() || p.closed.has_value(); });
    return p.return_of(qid);
  }
  // A call through the reference the accept returned reaches the host's object.
  void expect_works(RawPeer& p, std::uint32_t export_id, std::uint32_t qid) {
    p.send([&](wire::Message::Builder m) {
      auto c = m.initCall();
      c.setQuestionId(qid);
      c.initTarget().setImportedCap(export_id);
      c.setMethod("echo");
      c.initArgs(1)[0].setInt(41);
    });
    auto r = await_return(p, qid);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->int_value, 41);
  }
  void expect_refused(RawPeer& p, std::uint32_t qid, ErrorKind kind, const std::string& reason) {
    auto r = await_return(p, qid);
    ASSERT_TRUE(r) << "no answer";
    ASSERT_TRUE(r->error) << "the accept was honoured";
    EXPECT_EQ(*r->error, (Error{kind, reason}));
  }
  // An accept that finds no provision while the provider's session is open
  // waits for a provide that may still come (H10 2), and is refused when
  // accept_wait has passed.
  void expect_refused_after_wait(RawPeer& p, std::uint32_t qid) {
    settle();
    EXPECT_FALSE(p.return_of(qid)) << "answered before accept_wait";
    advance(20s);
    expect_refused(p, qid, ErrorKind::failed, "no provision for this accept");
  }
  captp::SessionInfo info_of(const RawPeer& p) const {
    for (const auto& s : host->sessions())
      if (s.peer == p.id()) return s;
    throw std::runtime_error("no session with the peer");
  }
};

TEST_F(HandoffHost, SessionsSpeakVersion11WithTheHandoffFeature) {
  auto s = info_of(alice);
  EXPECT_EQ(s.version.to_string(), "1.1");
  EXPECT_NE(std::find(s.features.begin(), s.features.end(), "handoff"), s.features.end());
}

TEST_F(HandoffHost, ProvideThenAcceptHandsTheObjectToTheRecipientOnce) {
  provide(10, alice.id(), 1);
  settle();
  EXPECT_EQ(info_of(bob).stats.provisions, 1u);
  accept(alice, 20, 1);
  auto r = await_return(alice, 20);
  ASSERT_TRUE(r && r->sender_hosted) << "the accept did not return the object";
  // H10 5: described in alice's session's terms: the export she already has.
  EXPECT_EQ(*r->sender_hosted, alice.boot);
  auto p = await_return(bob, 10);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->null_value);
  EXPECT_EQ(info_of(bob).stats.provisions, 0u);
  expect_works(alice, *r->sender_hosted, 21);
  // Once: the same nonce again finds nothing.
  accept(alice, 22, 1);
  expect_refused_after_wait(alice, 22);
}

TEST_F(HandoffHost, AcceptBeforeProvideWaitsForIt) {
  accept(alice, 20, 2);
  settle();
  EXPECT_FALSE(alice.return_of(20));
  EXPECT_EQ(info_of(alice).stats.waiting_accepts, 1u);
  provide(10, alice.id(), 2);
  auto r = await_return(alice, 20);
  ASSERT_TRUE(r && r->sender_hosted);
  EXPECT_EQ(info_of(alice).stats.waiting_accepts, 0u);
  ASSERT_TRUE(await_return(bob, 10));
  EXPECT_TRUE(bob.return_of(10)->null_value);
}

TEST_F(HandoffHost, AcceptFromAnotherVatIsRefusedAndLeavesTheProvisionForItsRecipient) {
  provide(10, alice.id(), 3);
  accept(eve, 30, 3);  // eve saw the nonce; she is not the recipient
  expect_refused(eve, 30, ErrorKind::failed, "no provision for this accept");
  EXPECT_FALSE(bob.return_of(10)) << "the provision ended";
  accept(alice, 20, 3);
  auto r = await_return(alice, 20);
  ASSERT_TRUE(r && r->sender_hosted);
}

TEST_F(HandoffHost, WaitingAcceptFromAnotherVatIsRefusedWhenTheProvideArrives) {
  accept(eve, 30, 4);
  settle();
  provide(10, alice.id(), 4);
  expect_refused(eve, 30, ErrorKind::failed, "no provision for this accept");
  accept(alice, 20, 4);
  ASSERT_TRUE(await_return(alice, 20)->sender_hosted);
}

TEST_F(HandoffHost, AcceptNamingAnotherProviderFindsNothing) {
  // alice names eve as the provider of bob's nonce: provisions are bob's.
  provide(10, alice.id(), 5);
  accept(alice, 20, 5, false, &eve.id());
  settle();
  // eve has a handoff session, so the accept waits for a provide from her,
  // then is refused when it waited long enough.
  EXPECT_FALSE(alice.return_of(20));
  advance(20s);
  expect_refused(alice, 20, ErrorKind::failed, "no provision for this accept");
  accept(alice, 21, 5);
  ASSERT_TRUE(await_return(alice, 21)->sender_hosted);
}

TEST_F(HandoffHost, ProvisionExpiresAfterItsTtl) {
  provide(10, alice.id(), 6);
  settle();  // the provide arrives at time 0
  advance(59s);
  EXPECT_FALSE(bob.return_of(10));
  advance(1s);
  auto p = await_return(bob, 10);
  ASSERT_TRUE(p && p->error);
  EXPECT_EQ(*p->error, (Error{ErrorKind::failed, "provision expired"}));
  accept(alice, 20, 6);
  expect_refused_after_wait(alice, 20);
}

TEST_F(HandoffHost, WaitingAcceptsAreBoundedAndTimeOut) {
  for (std::uint32_t i = 0; i < kMaxWaiting; ++i) accept(alice, 20 + i, static_cast<std::uint8_t>(40 + i));
  accept(alice, 29, 49);
  expect_refused(alice, 29, ErrorKind::overloaded, "more than 2 accepts wait for their provide");
  EXPECT_EQ(info_of(alice).stats.waiting_accepts, kMaxWaiting);
  advance(20s);
  for (std::uint32_t i = 0; i < kMaxWaiting; ++i)
    expect_refused(alice, 20 + i, ErrorKind::failed, "no provision for this accept");
  EXPECT_EQ(info_of(alice).stats.waiting_accepts, 0u);
}

TEST_F(HandoffHost, EmbargoedAcceptWaitsForTheIntroducersDisembargo) {
  provide(10, alice.id(), 7);
  accept(alice, 20, 7, /*embargo=*/true);
  settle();
  EXPECT_FALSE(alice.return_of(20)) << "answered before the introducer's calls were through";
  bob.send([](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setProvide(10);
  });
  auto r = await_return(alice, 20);
  ASSERT_TRUE(r && r->sender_hosted);
  ASSERT_TRUE(await_return(bob, 10)->null_value);
}

TEST_F(HandoffHost, DisembargoBeforeTheEmbargoedAcceptLetsItThroughAtOnce) {
  provide(10, alice.id(), 8);
  bob.send([](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setProvide(10);
  });
  accept(alice, 20, 8, /*embargo=*/true);
  ASSERT_TRUE(await_return(alice, 20)->sender_hosted);
}

TEST_F(HandoffHost, ProvideFinishedByTheIntroducerCancelsTheProvision) {
  provide(10, alice.id(), 9);
  bob.send([](wire::Message::Builder m) { m.initFinish().setQuestionId(10); });
  auto p = await_return(bob, 10);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->canceled);
  accept(alice, 20, 9);
  expect_refused_after_wait(alice, 20);
}

TEST_F(HandoffHost, IntroducerLeavingRefusesTheAcceptsThatWaitForIt) {
  accept(alice, 20, 11);
  provide(10, alice.id(), 12);
  accept(alice, 21, 12, /*embargo=*/true);
  settle();
  bob.ch->abort(Error{ErrorKind::disconnected, "bob leaves"});
  expect_refused(alice, 20, ErrorKind::disconnected, "the provider's session ended");
  expect_refused(alice, 21, ErrorKind::disconnected, "the provider's session ended");
}

TEST_F(HandoffHost, RecipientGivingUpEndsTheProvisionItTook) {
  provide(10, alice.id(), 13);
  accept(alice, 20, 13, /*embargo=*/true);
  settle();
  alice.send([](wire::Message::Builder m) { m.initFinish().setQuestionId(20); });
  auto p = await_return(bob, 10);
  ASSERT_TRUE(p && p->error);
  EXPECT_EQ(*p->error, (Error{ErrorKind::failed, "the recipient gave up"}));
}

TEST_F(HandoffHost, ProvideForTheHostOrTheProviderItselfIsRefused) {
  provide(10, host->id(), 14);
  auto p = await_return(bob, 10);
  ASSERT_TRUE(p && p->error);
  EXPECT_EQ(*p->error, (Error{ErrorKind::failed, "provision for the host or the provider itself"}));
  provide(11, bob.id(), 15);
  ASSERT_TRUE(await_return(bob, 11)->error);
}

TEST_F(HandoffHost, ReplayedProvideNonceIsRefusedAndTheFirstStays) {
  provide(10, alice.id(), 16);
  provide(11, eve.id(), 16);  // the same nonce, for someone else
  auto p = await_return(bob, 11);
  ASSERT_TRUE(p && p->error);
  EXPECT_EQ(*p->error, (Error{ErrorKind::failed, "nonce already provided"}));
  accept(eve, 30, 16);
  expect_refused(eve, 30, ErrorKind::failed, "no provision for this accept");
  accept(alice, 20, 16);
  ASSERT_TRUE(await_return(alice, 20)->sender_hosted);
}

TEST_F(HandoffHost, FloodOfProvidesKeepsOnlyTheNewestWithinTheBound) {
  for (std::uint32_t i = 0; i < kMaxProvisions + 2; ++i) provide(10 + i, alice.id(), static_cast<std::uint8_t>(60 + i));
  settle();
  EXPECT_EQ(info_of(bob).stats.provisions, kMaxProvisions);
  for (std::uint32_t i = 0; i < 2; ++i) {
    auto p = await_return(bob, 10 + i);
    ASSERT_TRUE(p && p->error);
    EXPECT_EQ(*p->error, (Error{ErrorKind::overloaded, "provision expired: more than 4 outstanding"}));
  }
  EXPECT_FALSE(bob.return_of(12));
  accept(alice, 20, 60);
  expect_refused_after_wait(alice, 20);
  accept(alice, 21, 62);
  ASSERT_TRUE(await_return(alice, 21)->sender_hosted);
}

TEST_F(HandoffHost, MalformedHandoffFieldsAbortTheSession) {
  auto short_nonce = std::vector<std::uint8_t>(31, 1);
  alice.send([&](wire::Message::Builder m) {
    auto a = m.initAccept();
    a.setQuestionId(20);
    a.setProvider(bytes_of(bob.id().bytes()));
    a.setNonce(bytes_of(short_nonce));
  });
  ASSERT_TRUE(run_until([&] { return alice.closed.has_value(); }));
  ASSERT_TRUE(alice.abort());
  EXPECT_EQ(alice.abort()->error->reason, "protocol violation by the peer: handoff nonce of 31 bytes (32 expected)");
  // bob's session, and the host, go on.
  provide(10, eve.id(), 17);
  accept(eve, 30, 17);
  ASSERT_TRUE(await_return(eve, 30)->sender_hosted);
}

TEST_F(HandoffHost, DisembargoProvideNamingACallAborts) {
  bob.send([&](wire::Message::Builder m) {
    auto c = m.initCall();
    c.setQuestionId(10);
    c.initTarget().setImportedCap(bob.boot);
    c.setMethod("hang");
  });
  bob.send([](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setProvide(10);
  });
  ASSERT_TRUE(run_until([&] { return bob.closed.has_value(); }));
  ASSERT_TRUE(bob.abort());
  EXPECT_EQ(bob.abort()->error->reason,
            "protocol violation by the peer: disembargo provide names 10, which is not a provide");
}

// The host as a recipient (H5, H6, H12): bob hands it a reference to an
// object of eve's. This version does not dial for handoffs, so it falls back
// to the vine at once: calls through the reference go to bob's export, and
// the session counts the fallback.
// spec/captp.md 5, "Chained loopback": the host answers it as a
// senderLoopback, after the calls sent along the target before it, though
// the path ends at its own object; a target that does not exist aborts.
TEST_F(HandoffHost, ChainedLoopbackIsReflectedAfterTheCallsBeforeIt) {
  bob.send([&](wire::Message::Builder m) {
    auto c = m.initCall();
    c.setQuestionId(10);
    c.initTarget().setImportedCap(bob.boot);
    c.setMethod("order");
    c.initArgs(1)[0].setInt(7);
  });
  bob.send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(bob.boot);
    d.setChainedLoopback(5);
  });
  std::optional<Got> back;
  ASSERT_TRUE(run_until([&] {
    for (const Got& g : bob.inbox)
      if (g.which == wire::Message::DISEMBARGO) back = g;
    return back.has_value() || bob.closed.has_value();
  }));
  ASSERT_TRUE(back) << "the host did not reflect the chained loopback";
  EXPECT_EQ(back->id, 5u);
  EXPECT_EQ(echo.call<&Echo::seen>(), (std::vector<std::int64_t>{7}));
  bob.send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(99);
    d.setChainedLoopback(6);
  });
  ASSERT_TRUE(run_until([&] { return bob.closed.has_value(); }));
  ASSERT_TRUE(bob.abort());
  EXPECT_EQ(bob.abort()->error->reason, "protocol violation by the peer: message to unknown export id 99");
}

TEST_F(HandoffHost, RecipientFallsBackToTheVineAndCountsIt) {
  auto n = nonce(70);
  std::vector<std::uint8_t> instance(16, 3);
  auto hold = [&](const VatId& host_id, std::uint32_t qid) {
    bob.send([&](wire::Message::Builder m) {
      auto c = m.initCall();
      c.setQuestionId(qid);
      c.initTarget().setImportedCap(bob.boot);
      c.setMethod("hold");
      auto t = c.initArgs(1)[0].initCap().initThirdPartyHosted();
      t.setHost(bytes_of(host_id.bytes()));
      t.setHostInstance(bytes_of(instance));
      t.initHints(1).set(0, "127.0.0.1:9");
      t.setNonce(bytes_of(n));
      t.setVine(5);
    });
  };
  hold(eve.id(), 10);
  ASSERT_TRUE(await_return(bob, 10));
  EXPECT_FALSE(bob.return_of(10)->error);
  auto answered = echo.send<&Echo::call_held>(8);
  ASSERT_TRUE(run_until([&] {
    for (const Got& g : bob.inbox)
      if (g.which == wire::Message::CALL && g.call_target == 5u && g.method == "echo") return true;
    return false;
  })) << "no call came through the vine";
  auto s = info_of(bob).stats;
  EXPECT_EQ(s.handoff_fallbacks, 1u);
  EXPECT_EQ(s.handoffs, 0u);
  EXPECT_FALSE(s.last_handoff_fallback.empty());

  // H5: a descriptor naming the receiver itself as the host aborts.
  hold(host->id(), 11);
  ASSERT_TRUE(run_until([&] { return bob.closed.has_value(); }));
  ASSERT_TRUE(bob.abort());
  EXPECT_EQ(bob.abort()->error->reason,
            "protocol violation by the peer: thirdPartyHosted names the sender or the receiver as its host");
}

// A peer that did not offer handoff (section 11.10) speaks 1.0 with the host:
// the handoff operations stay violations on its session.
TEST_F(HandoffHost, PeerWithoutTheFeatureSpeaks10) {
  RawPeer old;
  auto [m, h] = captp::memory_pipe(mio, host_vat.io());
  host->accept(std::move(h));
  bool done = false;
  captp::SecureChannel::initiate(mio, std::move(m), old.identity, host->id(), {},
                                 [&](std::shared_ptr<captp::SecureChannel> c, Error*) {
                                   done = true;
                                   old.ch = std::move(c);
                                 });
  ASSERT_TRUE(run_until([&] { return done; }));
  ASSERT_TRUE(old.ch);
  EXPECT_FALSE(old.ch->negotiated().has(captp::Feature::handoff));
  EXPECT_EQ(old.ch->negotiated().version.to_string(), "1.0");
  RawPeer* raw = &old;
  old.ch->start([raw](std::span<const std::uint8_t> b) { raw->receive(b); },
                [raw](const Error& e) { raw->closed = e; });
  old.send([&](wire::Message::Builder msg) {
    auto d = msg.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setProvide(1);
  });
  ASSERT_TRUE(run_until([&] { return old.closed.has_value(); }));
  ASSERT_TRUE(old.abort());
  EXPECT_EQ(old.abort()->error->reason, "protocol violation by the peer: disembargo of an unknown kind");
}

}  // namespace
}  // namespace vatic::test
