#include "captp/internal/crypto/handshake.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "captp/internal/crypto/frame.h"
#include "tests/captp/crypto_test_util.h"
#include "vat/error.h"

namespace vatic::captp {
namespace {

using Bytes = std::vector<uint8_t>;

// Runs the three messages; returns the first error (empty if none).
std::string run(CaptpHandshake& dialler, CaptpHandshake& listener) {
  auto m1 = dialler.write_message();
  if (auto e = listener.read_message(m1); !e) return e.error();
  auto m2 = listener.write_message();
  if (auto e = dialler.read_message(m2); !e) return e.error();
  auto m3 = dialler.write_message();
  if (auto e = listener.read_message(m3); !e) return e.error();
  return "";
}

// spec/handshake.md "Version and features": each side's hello reaches the
// other intact (message 2 from the responder, message 3 from the initiator).
TEST(CaptpHandshake, EachSideLearnsTheOthersHello) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  Hello a_hello{{1, 4}, 0x8000000000000001}, b_hello{{7, 2}, 0x0000000000000006};
  auto dialler = CaptpHandshake::initiator(alice, bob.id(), InstanceId::generate(), a_hello);
  auto listener = CaptpHandshake::responder(bob, InstanceId::generate(), b_hello);
  ASSERT_EQ(run(dialler, listener), "") << "any hello completes the handshake; negotiation comes after";
  auto a = dialler.finish();
  auto b = listener.finish();
  EXPECT_EQ(a.peer_hello, b_hello);
  EXPECT_EQ(a.own_hello, a_hello);
  EXPECT_EQ(b.peer_hello, a_hello);
  EXPECT_EQ(b.own_hello, b_hello);
}

TEST(CaptpHandshake, AuthenticatesBothVatsAndYieldsCrossedKeys) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  auto dialler = CaptpHandshake::initiator(alice, bob.id());
  auto listener = CaptpHandshake::responder(bob);
  EXPECT_TRUE(dialler.my_turn_to_write());
  EXPECT_EQ(listener.next_read_size(), kHandshakeMessage1Bytes);

  auto m1 = dialler.write_message();
  EXPECT_EQ(m1.size(), 48u);
  EXPECT_EQ(dialler.next_read_size(), kHandshakeMessage2Bytes);
  ASSERT_TRUE(listener.read_message(m1));
  auto m2 = listener.write_message();
  EXPECT_EQ(m2.size(), 76u);
  EXPECT_EQ(listener.next_read_size(), kHandshakeMessage3Bytes);
  ASSERT_TRUE(dialler.read_message(m2));
  auto m3 = dialler.write_message();
  EXPECT_EQ(m3.size(), 124u);
  ASSERT_TRUE(listener.read_message(m3));

  ASSERT_TRUE(dialler.complete());
  ASSERT_TRUE(listener.complete());
  EXPECT_EQ(dialler.next_read_size(), 0u);
  auto a = dialler.finish();
  auto b = listener.finish();
  EXPECT_EQ(a.peer, bob.id());
  EXPECT_EQ(b.peer, alice.id());
  EXPECT_EQ(a.handshake_hash, b.handshake_hash);

  Bytes stream;
  FrameSealer(std::move(a.send)).seal(FrameKind::data, Bytes{1, 2, 3}, stream);
  FrameOpener opener(std::move(b.receive));
  auto got = test::drain(opener, stream);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(test::is_error(got[0])) << test::error_of(got[0]);
  stream.clear();
  FrameSealer(std::move(b.send)).seal(FrameKind::ping, {}, stream);
  FrameOpener back(std::move(a.receive));
  EXPECT_FALSE(test::is_error(test::open_one(back, stream)));
}

// Each side learns which running Node of the other's identity it talks to:
// the instances travel in messages 2 and 3, under Noise's authentication.
TEST(CaptpHandshake, EachSideLearnsThePeersInstance) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  InstanceId alice_instance = InstanceId::generate(), bob_instance = InstanceId::generate();
  ASSERT_NE(alice_instance, bob_instance);
  auto dialler = CaptpHandshake::initiator(alice, bob.id(), alice_instance);
  auto listener = CaptpHandshake::responder(bob, bob_instance);
  ASSERT_EQ(run(dialler, listener), "");
  auto a = dialler.finish();
  auto b = listener.finish();
  EXPECT_EQ(a.peer_instance, bob_instance);
  EXPECT_EQ(b.peer_instance, alice_instance);
}

// The prologue's version changed with the message sizes: a version-1 dialer
// fails message 1, before anything is misread.
TEST(CaptpHandshake, AVersionOneDialerFailsAtMessageOne) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  Bytes v1 = test::bytes_of("vatic-captp/1");
  v1.insert(v1.end(), bob.id().bytes().begin(), bob.id().bytes().end());
  auto noise = NoiseXK::initiator(alice.x25519_secret(), v1, *x25519_public_of(bob.id()));
  auto listener = CaptpHandshake::responder(bob);
  EXPECT_EQ(listener.read_message(noise.write_message({})).error(), "handshake message 1 failed authentication");
}

TEST(CaptpHandshake, PrologueIsTheVersionLabelAndTheDialledVatId) {
  auto bob = Identity::generate();
  Bytes expected = test::bytes_of("vatic-captp/3");
  expected.insert(expected.end(), bob.id().bytes().begin(), bob.id().bytes().end());
  EXPECT_EQ(captp_prologue(bob.id()), expected);
}

TEST(CaptpHandshake, DiallingAVatIdThatTheListenerDoesNotHoldFailsAtMessageOne) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  auto carol = Identity::generate();
  auto dialler = CaptpHandshake::initiator(alice, carol.id());  // wants carol
  auto listener = CaptpHandshake::responder(bob);               // bob answers
  EXPECT_EQ(run(dialler, listener), "handshake message 1 failed authentication");
  EXPECT_TRUE(listener.failed());
  EXPECT_EQ(listener.read_message(Bytes(48, 0)).error(),
            "handshake already failed: handshake message 1 failed authentication");
  EXPECT_THROW(listener.write_message(), VatError);
}

// An initiator that holds its own static key but claims another vat's id.
TEST(CaptpHandshake, AnInitiatorClaimingAnotherVatIdIsRefused) {
  auto mallory = Identity::generate();
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  auto rs = x25519_public_of(bob.id());
  auto noise = NoiseXK::initiator(mallory.x25519_secret(), captp_prologue(bob.id()), *rs);
  auto listener = CaptpHandshake::responder(bob);
  ASSERT_TRUE(listener.read_message(noise.write_message({})));
  ASSERT_TRUE(noise.read_message(listener.write_message()));
  Bytes claim(alice.id().bytes().begin(), alice.id().bytes().end());
  claim.resize(kVatIdBytes + kInstanceIdBytes + kHelloBytes);  // || an instance id || a hello
  EXPECT_EQ(listener.read_message(noise.write_message(claim)).error(),
            "initiator's vat id does not match its static key");
  EXPECT_FALSE(listener.complete());
  EXPECT_THROW(listener.finish(), VatError);
}

TEST(CaptpHandshake, AnInvalidVatIdInMessageThreeIsRefused) {
  auto mallory = Identity::generate();
  auto bob = Identity::generate();
  auto noise = NoiseXK::initiator(mallory.x25519_secret(), captp_prologue(bob.id()), *x25519_public_of(bob.id()));
  auto listener = CaptpHandshake::responder(bob);
  ASSERT_TRUE(listener.read_message(noise.write_message({})));
  ASSERT_TRUE(noise.read_message(listener.write_message()));
  EXPECT_EQ(listener.read_message(noise.write_message(Bytes(kVatIdBytes + kInstanceIdBytes + kHelloBytes, 0))).error(),
            "initiator's vat id is invalid: the key is not a valid Ed25519 public key (not a canonical point of the "
            "prime-order subgroup)");
}

TEST(CaptpHandshake, MessagesOfTheWrongSizeAreRefusedBeforeAnyCryptography) {
  auto bob = Identity::generate();
  auto listener = CaptpHandshake::responder(bob);
  EXPECT_EQ(listener.read_message(Bytes(47, 0)).error(), "handshake message 1 must be 48 bytes, got 47");
  auto again = CaptpHandshake::responder(bob);
  EXPECT_EQ(again.read_message(Bytes(49, 0)).error(), "handshake message 1 must be 48 bytes, got 49");
  auto alice = Identity::generate();
  auto dialler = CaptpHandshake::initiator(alice, bob.id());
  dialler.write_message();
  EXPECT_EQ(dialler.read_message({}).error(), "handshake message 2 must be 76 bytes, got 0");
}

TEST(CaptpHandshake, EveryBitFlipInMessageThreeIsRefused) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  for (std::size_t bit = 0; bit < kHandshakeMessage3Bytes * 8; bit += 7) {
    auto dialler = CaptpHandshake::initiator(alice, bob.id());
    auto listener = CaptpHandshake::responder(bob);
    ASSERT_TRUE(listener.read_message(dialler.write_message()));
    ASSERT_TRUE(dialler.read_message(listener.write_message()));
    auto m3 = dialler.write_message();
    m3[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(listener.read_message(m3).error(), "handshake message 3 failed authentication") << bit;
  }
}

TEST(CaptpHandshake, MisuseThrows) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  auto dialler = CaptpHandshake::initiator(alice, bob.id());
  auto listener = CaptpHandshake::responder(bob);
  EXPECT_THROW(listener.write_message(), VatError);
  EXPECT_THROW(dialler.read_message(Bytes(48, 0)), VatError);
  EXPECT_THROW(dialler.finish(), VatError);
  ASSERT_EQ(run(dialler, listener), "");
  dialler.finish();
  EXPECT_THROW(dialler.finish(), VatError);
}

}  // namespace
}  // namespace vatic::captp
