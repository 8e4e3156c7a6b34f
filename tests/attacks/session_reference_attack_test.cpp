// Attacks through references and promises that cross back to the victim: a
// hostile vat answers the victim's own calls wrongly, resolves its promises
// into cycles, leaves references the victim keeps after the session ended,
// and claims a second spelling of its vat id. Harness: hostile_peer.h.
//
//   mallory --hand-built wire::Message in data frames--> victim Node (Echo) <-- honest client
//                   <--- calls to mallory's objects ----
#include "captp/internal/session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "captp/internal/crypto/handshake.h"
#include "captp/internal/crypto/noise.h"
#include "tests/attacks/hostile_peer.h"

namespace vatic::test {
namespace {

// --- Returns to the victim's own questions (the victim calls mallory's object).

class VictimCalls : public SessionAttack {
 protected:
  // The victim's bootstrap keeps mallory's export 5 and calls it: returns the
  // victim's question id for that call.
  std::uint32_t victim_question() {
    std::size_t from = inbox.size();
    send([&](wire::Message::Builder m) { hand_over(m, 1, boot, 5, false); });
    EXPECT_TRUE(await_return(1, from));
    finish(1);
    send([&](wire::Message::Builder m) { init_call(m, 2, boot, "call_held").initArgs(1)[0].setInt(8); });
    auto call = await([](const Seen& s) { return s.which == wire::Message::CALL; }, from);
    EXPECT_TRUE(call);
    EXPECT_EQ(call ? call->echoed_call_target : std::nullopt, 5u);
    return call ? call->id : 0;
  }
  void answer(std::uint32_t qid, std::int64_t x) {
    send([&](wire::Message::Builder m) {
      auto r = m.initReturn();
      r.setAnswerId(qid);
      r.initValue().setInt(x);
    });
  }
};

TEST_F(VictimCalls, AnsweredCallIsServed) {
  std::uint32_t q = victim_question();
  std::size_t from = inbox.size();
  answer(q, 8);
  auto r = await_return(2, from);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->int_value, 8);
  auto f = await([q](const Seen& s) { return s.which == wire::Message::FINISH && s.id == q; }, from);
  EXPECT_TRUE(f) << "the victim finishes what it asked";
  finish(2);
  expect_still_up();
}

TEST_F(VictimCalls, SecondReturnForOneQuestionAborts) {
  std::uint32_t q = victim_question();
  answer(q, 8);
  answer(q, 9);
  expect_aborted(violation("return for unknown question " + std::to_string(q)));
}

TEST_F(VictimCalls, CanceledReturnForAQuestionNotCanceledAborts) {
  std::uint32_t q = victim_question();
  send([&](wire::Message::Builder m) {
    auto r = m.initReturn();
    r.setAnswerId(q);
    r.setCanceled();
  });
  expect_aborted(violation("question " + std::to_string(q) + " canceled by the callee"));
}

TEST_F(VictimCalls, ReturnOfAnUnknownKindAborts) {
  std::uint32_t q = victim_question();
  send([&](wire::Message::Builder m) {
    auto r = m.initReturn();
    r.setAnswerId(q);
    set_raw_which<wire::Return>(r, 9);
  });
  expect_aborted(violation("return of an unknown kind"));
}

// spec/captp.md 11.10: outside a call, a thirdPartyHosted reference on a
// session that did not negotiate `handoff` aborts it (this version never does).
TEST_F(VictimCalls, ThirdPartyHostedInAReturnAborts) {
  std::uint32_t q = victim_question();
  send([&](wire::Message::Builder m) {
    auto r = m.initReturn();
    r.setAnswerId(q);
    auto t = r.initValue().initCap().initThirdPartyHosted();
    t.initHost(32);
    t.initHostInstance(16);
    t.initNonce(32);
    t.setVine(6);
  });
  expect_aborted(violation("thirdPartyHosted reference on a session without the handoff feature"));
}

// --- Promises that resolve to themselves.

// Mallory exports a promise, the victim's bootstrap keeps it, and she resolves
// it to itself. A call through it must be refused (an abort, or a broken
// promise naming the cycle), whichever the fix chooses.
// This crashed (stack overflow) until RemotePromise::resolve (embargo.cpp)
// learned to refuse a target that forwards back to it.
TEST_F(SessionAttack, PromiseResolvedToItselfIsRefused) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { hand_over(m, 1, boot, 4, true); });
  ASSERT_TRUE(await_return(1, from));
  finish(1);
  send([&](wire::Message::Builder m) {
    auto r = m.initResolve();
    r.setPromiseId(4);
    r.initValue().initCap().setSenderPromise(4);
  });
  send([&](wire::Message::Builder m) { init_call(m, 2, boot, "call_held").initArgs(1)[0].setInt(1); });
  expect_call_refused(2, from, kViolation, "cycle");
}

// The same through two promises: 4 resolves to 5, then 5 to 4.
TEST_F(SessionAttack, PromisesResolvedToEachOtherAreRefused) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { hand_over(m, 1, boot, 4, true); });
  ASSERT_TRUE(await_return(1, from));
  finish(1);
  send([&](wire::Message::Builder m) {
    auto r = m.initResolve();
    r.setPromiseId(4);
    r.initValue().initCap().setSenderPromise(5);
  });
  send([&](wire::Message::Builder m) {
    auto r = m.initResolve();
    r.setPromiseId(5);
    r.initValue().initCap().setSenderPromise(4);
  });
  send([&](wire::Message::Builder m) { init_call(m, 2, boot, "call_held").initArgs(1)[0].setInt(1); });
  expect_call_refused(2, from, kViolation, "cycle");
}

// The cycle closed later, in the victim's own vat: her promise 4 resolves to
// the victim's pending answer 6 (Echo::later), then that local promise is
// resolved to promise 4. Both cycle checks (PromiseBase::leads_back and
// RemotePromise::resolve) follow either kind of promise through
// Handler::forwards_to().
TEST_F(SessionAttack, PromiseCycleClosedThroughALocalPromiseIsRefused) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { hand_over(m, 1, boot, 4, true); });
  ASSERT_TRUE(await_return(1, from));
  finish(1);
  send([&](wire::Message::Builder m) { init_call(m, 6, boot, "later"); });
  send([&](wire::Message::Builder m) {
    auto r = m.initResolve();
    r.setPromiseId(4);
    r.initValue().initCap().initReceiverAnswer().setQuestionId(6);
  });
  send([&](wire::Message::Builder m) {
    init_call(m, 7, boot, "resolve_later").initArgs(1)[0].initCap().setSenderPromise(4);
  });
  send([&](wire::Message::Builder m) { init_call(m, 2, boot, "call_held").initArgs(1)[0].setInt(1); });
  expect_call_refused(2, from, kViolation, "cycle");
}

// --- What an ended session keeps.

// Mallory hands the bootstrap object a reference it keeps, and her session
// ends. The object holds her import handler, which holds the session: the
// session must let go of the object (Session::bootstrap_) when it ends, or the
// three (and the session's channel) keep each other for ever once the node and
// everybody else let go. (LeakSanitizer reports that cycle in every case here.)
TEST_F(SessionAttack, EndedSessionLetsGoOfTheBootstrapObject) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) { hand_over(m, 1, boot, 5, false); });
  ASSERT_TRUE(await_return(1, from));
  finish(7);  // a violation: the session ends
  ASSERT_TRUE(run_until([&] { return closed.has_value(); }, kVerdictWait));
  honest_ref = {};
  honest.reset();
  victim.reset();
  victim_echo = {};
  settle();
  EXPECT_EQ(victim_vat.live_objects(), 0u) << "the bootstrap object outlived every reference to it";
}

// --- Who the peer is.

// An Ed25519 key and its negation (the same key with the sign bit of its last
// byte flipped) map to one X25519 key, so message 3 of the handshake proves
// both vat ids at once. Mallory claims her own key's second spelling: the
// victim must refuse it, or any vat may hold two identities (two sessions,
// two entries in every table keyed by vat id) with one key.
// Found by fuzz_handshake. Fixed by making the spelling canonical: a vat id
// has the sign bit clear (identity.cpp), so the alias is not a vat id at all.
TEST_F(SessionAttack, SecondSpellingOfAVatIdIsRefused) {
  auto [m, v] = captp::memory_pipe(mio, victim_vat.io());
  victim->accept(std::move(v));
  auto noise = captp::NoiseXK::initiator(mallory.x25519_secret(), captp::captp_prologue(victim->id()),
                                         *captp::x25519_public_of(victim->id()));
  auto write = [&](std::vector<std::uint8_t> b) {
    bool done = false;
    m->async_write({boost::asio::buffer(b)}, [&](boost::system::error_code, std::size_t) { done = true; });
    ASSERT_TRUE(run_until([&] { return done; }));
  };
  write(noise.write_message({}));
  std::vector<std::uint8_t> msg2(captp::kHandshakeMessage2Bytes);
  bool got = false;
  captp::async_read_exactly(*m, boost::asio::buffer(msg2), [&](boost::system::error_code, std::size_t) { got = true; });
  ASSERT_TRUE(run_until([&] { return got; }));
  ASSERT_TRUE(noise.read_message(msg2));
  auto alias = mallory.id().bytes();
  alias[31] ^= 0x80;
  ASSERT_FALSE(captp::VatId::parse_bytes(alias)) << "the second spelling must not be a vat id";
  std::uint64_t failed_before = victim->stats().handshakes_failed;
  std::vector<std::uint8_t> claim(alias.begin(), alias.end());
  claim.resize(captp::kVatIdBytes + captp::kInstanceIdBytes + captp::kHelloBytes);  // || an instance id || a hello
  write(noise.write_message(claim));
  EXPECT_TRUE(
      run_until([&] { return victim->stats().handshakes_failed > failed_before || victim->sessions().size() > 2; },
                kVerdictWait));
  EXPECT_NE(victim->stats().last_handshake_failure.find("vat id"), std::string::npos)
      << victim->stats().last_handshake_failure;
  EXPECT_EQ(victim->sessions().size(), 2u) << "mallory holds a second session under a second vat id";
  m->close();
  expect_honest_works();
}

}  // namespace
}  // namespace vatic::test
