#include "captp/internal/crypto/peer_keys.h"

#include <gtest/gtest.h>

#include <span>

#include "captp/identity.h"

namespace vatic::captp {
namespace {

std::span<const uint8_t, kVatIdBytes> bytes_of(const Identity& id) { return id.id().bytes(); }

TEST(PeerKeys, DialledKeyIsTheVatIdsX25519Image) {
  PeerKeys keys;
  auto bob = Identity::generate();
  for (int round = 0; round < 2; ++round) {  // converted, then remembered
    auto x = keys.dialled(bob.id());
    ASSERT_TRUE(x);
    EXPECT_EQ(*x, bob.x25519_public());
    EXPECT_EQ(*x, *x25519_public_of(bob.id()));
  }
  EXPECT_EQ(keys.size(), 1u);
}

TEST(PeerKeys, InitiatorIsAcceptedOnlyWithItsOwnProvenKeyBeforeAndAfterItIsRemembered) {
  PeerKeys keys;
  auto alice = Identity::generate(), mallory = Identity::generate();
  for (int round = 0; round < 2; ++round) {
    auto ok = keys.initiator(bytes_of(alice), alice.x25519_public());
    ASSERT_TRUE(ok) << ok.error();
    EXPECT_EQ(*ok, alice.id());
    // Mallory proved her own key and claims Alice's vat id: refused, whether
    // or not Alice's pair is remembered.
    auto forged = keys.initiator(bytes_of(alice), mallory.x25519_public());
    ASSERT_FALSE(forged);
    EXPECT_EQ(forged.error(), "initiator's vat id does not match its static key");
  }
  // Mallory's key is remembered by now (none of hers was, so far): claiming
  // Alice with it is still refused.
  ASSERT_TRUE(keys.initiator(bytes_of(mallory), mallory.x25519_public()));
  EXPECT_FALSE(keys.initiator(bytes_of(alice), mallory.x25519_public()));
  EXPECT_FALSE(keys.initiator(bytes_of(mallory), alice.x25519_public()));
}

TEST(PeerKeys, InvalidVatIdIsRefusedWithTheParsersReason) {
  PeerKeys keys;
  auto alice = Identity::generate();
  auto bad = alice.id().bytes();
  bad[31] |= 0x80;  // the sign bit: the negation's spelling, not a vat id
  auto r = keys.initiator(bad, alice.x25519_public());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("initiator's vat id is invalid: "), std::string::npos) << r.error();
  EXPECT_EQ(keys.size(), 0u);
}

TEST(PeerKeys, HoldsAtMostItsCapacityAndDropsTheOldestFirst) {
  PeerKeys keys(2);
  auto a = Identity::generate(), b = Identity::generate(), c = Identity::generate();
  ASSERT_TRUE(keys.initiator(bytes_of(a), a.x25519_public()));
  ASSERT_TRUE(keys.dialled(b.id()));
  ASSERT_TRUE(keys.dialled(c.id()));  // drops a
  EXPECT_EQ(keys.size(), 2u);
  // Every answer is still right: a is converted again.
  auto again = keys.initiator(bytes_of(a), a.x25519_public());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, a.id());
  EXPECT_EQ(keys.size(), 2u);
}

}  // namespace
}  // namespace vatic::captp
