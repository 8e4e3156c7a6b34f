// Three-party handoff sent to a vat that does not speak it (spec/captp.md
// 11.10): a node not configured for handoff (the default) never offers the
// `handoff` feature, so a peer that sends
// provide, accept, announce, a thirdPartyHosted reference or a handoff
// disembargo breaks the protocol. These tests pin what the 1.0 decoder does
// with each, which is what the spec's compatibility note promises a 1.1 peer:
// the operations are echoed as unimplemented, a call carrying the reference is
// echoed, and the disembargoes abort. (The reference outside a call aborts:
// session_reference_attack_test.cpp.) Harness: hostile_peer.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/attacks/hostile_peer.h"

namespace vatic::test {
namespace {

kj::ArrayPtr<const kj::byte> bytes_of(const std::vector<kj::byte>& v) { return kj::arrayPtr(v.data(), v.size()); }

const std::vector<kj::byte> kNonce(32, 0x5a);
const std::vector<kj::byte> kSomeVat(32, 0x11);  // a vat id's size; validity is never reached

class HandoffToA10Vat : public SessionAttack {
 protected:
  // Mallory sends one handoff operation; the victim echoes it and keeps the
  // session.
  void expect_echoed(unsigned which, const std::function<void(wire::Message::Builder)>& build) {
    std::size_t from = inbox.size();
    send(build);
    auto u = await([](const Seen& s) { return s.which == wire::Message::UNIMPLEMENTED; }, from);
    ASSERT_TRUE(u) << "no unimplemented reply";
    EXPECT_EQ(u->echoed_which, which);
    expect_still_up();
  }
};

TEST_F(HandoffToA10Vat, ProvideIsEchoedAsUnimplemented) {
  expect_echoed(wire::Message::PROVIDE, [&](wire::Message::Builder m) {
    auto p = m.initProvide();
    p.setQuestionId(3);
    p.initTarget().setImportedCap(boot);
    p.setRecipient(bytes_of(kSomeVat));
    p.setNonce(bytes_of(kNonce));
  });
  // Nothing of it was taken: question id 3 is still free for a call.
  EXPECT_EQ(echo(3, 5), 5);
}

TEST_F(HandoffToA10Vat, AcceptIsEchoedAsUnimplemented) {
  expect_echoed(wire::Message::ACCEPT, [&](wire::Message::Builder m) {
    auto a = m.initAccept();
    a.setQuestionId(4);
    a.setProvider(bytes_of(kSomeVat));
    a.setNonce(bytes_of(kNonce));
    a.setEmbargo(true);
  });
  EXPECT_EQ(echo(4, 6), 6);
}

TEST_F(HandoffToA10Vat, AnnounceIsEchoedAsUnimplemented) {
  expect_echoed(wire::Message::ANNOUNCE, [&](wire::Message::Builder m) {
    auto hints = m.initAnnounce().initHints(1);
    hints.set(0, "127.0.0.1:4242");
  });
}

// spec/captp.md 4: a call carrying a reference of a kind the session did not
// negotiate is echoed before anything in it is counted or delivered.
TEST_F(HandoffToA10Vat, ThirdPartyHostedInACallIsEchoedAsUnimplemented) {
  std::size_t from = inbox.size();
  send([&](wire::Message::Builder m) {
    auto args = init_call(m, 1, boot, "hold").initArgs(1);
    auto t = args[0].initCap().initThirdPartyHosted();
    t.setHost(bytes_of(kSomeVat));
    t.setHostInstance(bytes_of(std::vector<kj::byte>(16, 0x22)));
    t.setNonce(bytes_of(kNonce));
    t.setVine(6);
  });
  auto u = await([](const Seen& s) { return s.which == wire::Message::UNIMPLEMENTED; }, from);
  ASSERT_TRUE(u) << "no unimplemented reply";
  EXPECT_EQ(u->echoed_which, static_cast<unsigned>(wire::Message::CALL));
  expect_still_up();
  // The vine was not imported, so it is not released either.
  EXPECT_FALSE(find([](const Seen& s) { return s.which == wire::Message::RELEASE; }, from));
  EXPECT_EQ(echo(1, 7), 7);  // the question id was never taken
}

TEST_F(HandoffToA10Vat, DisembargoAcceptAborts) {
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(boot);
    d.setAccept(bytes_of(kNonce));
  });
  expect_aborted(violation("disembargo of an unknown kind"));
}

TEST_F(HandoffToA10Vat, DisembargoProvideAborts) {
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setProvide(0);
  });
  expect_aborted(violation("disembargo of an unknown kind"));
}

}  // namespace
}  // namespace vatic::test
