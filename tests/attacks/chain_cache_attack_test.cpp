// Attacks on the redeemer's cache of verified tag chains (caps/chain_cache.h):
// a holder of a genuine token, once it has been redeemed and its chain
// cached, tries to ride on the cached prefix with a forged tail or a forged
// tag, to pass a revoked branch or object through the cache, and to flood
// the cache. The redeemer below follows token.md's order of checks, with the
// cache in step 4 and the store's revocation sets in steps 3 and 6, as
// sturdyrefs/host.cpp does.
#include "caps/chain_cache.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "caps/caveat.h"

namespace vatic::caps {
namespace {

struct Redeemer {
  MasterKey master = MasterKey::random();
  VatKey vat{};
  std::set<ObjectId> objects, revoked_objects;
  std::set<RevocationId> revoked;
  ChainCache chains{64};

  Token issue() {
    ObjectId id = new_object_id();
    objects.insert(id);
    return mint(derive_object_key(master, id), vat, id);
  }
  // token.md: revocation, and the cache forgets what is revoked.
  void revoke(const Token& t) {
    if (t.caveats.empty()) {
      revoked_objects.insert(t.object);
      chains.forget_object(t.object);
    } else {
      RevocationId rid = revocation_id(t.tag);
      revoked.insert(rid);
      chains.forget_branch(rid);
    }
  }
  bool redeem(const Token& t) {
    bool known = objects.count(t.object) && !revoked_objects.count(t.object);
    // As Host does: the store's revoked-branch check keeps a revoked chain out.
    auto check = chains.verify(t, derive_object_key(master, known ? t.object : ObjectId{}), true,
                               [&](const RevocationId& rid) { return revoked.count(rid) > 0; });
    if (revoked_objects.count(t.object)) chains.forget_object(t.object);
    if (!known || !check.valid) return false;
    for (const auto& rid : check.revocation_ids) {
      if (revoked.count(rid)) {
        chains.forget_branch(rid);  // as Host does: a revoked chain is not kept
        return false;
      }
    }
    return true;
  }
};

class ChainCacheAttack : public ::testing::Test {
 protected:
  ChainCacheAttack() {
    plain = r.issue();
    a = attenuate(plain, caveat_path("docs").value()).value();
    ab = attenuate(a, caveat_ops(kReadOnlyFsOps)).value();
    EXPECT_TRUE(r.redeem(ab));  // now plain -> a -> ab is cached
    EXPECT_EQ(r.chains.size(), 3u);
  }
  Redeemer r;
  Token plain, a, ab;
};

TEST_F(ChainCacheAttack, AForgedTailOnACachedPrefixIsRefused) {
  // A caveat appended without the key: the tag must be MAC(tag_ab, c), which
  // the holder can compute; but a tag made up, or a weaker caveat swapped in
  // under ab's tag, must fail.
  Token tail = ab;
  tail.caveats.push_back(caveat_max_bytes(10));  // the tag stays ab's
  EXPECT_FALSE(r.redeem(tail));
  Token swapped = ab;
  swapped.caveats.back() = caveat_ops(kAllFsOps);  // a wider last caveat under the cached prefix
  EXPECT_FALSE(r.redeem(swapped));
  Token dropped = ab;
  dropped.caveats.pop_back();  // a's prefix with ab's tag
  EXPECT_FALSE(r.redeem(dropped));
  for (int bit = 0; bit < 256; bit += 7) {
    Token flipped = ab;
    flipped.tag[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(r.redeem(flipped)) << bit;
  }
  // Refusals are not cached: the cache holds only the genuine chain.
  EXPECT_EQ(r.chains.size(), 3u);
  // And a genuine extension of the cached prefix is accepted.
  EXPECT_TRUE(r.redeem(attenuate(ab, caveat_max_bytes(10)).value()));
  EXPECT_EQ(r.chains.size(), 4u);
}

TEST_F(ChainCacheAttack, ARevokedBranchIsRefusedAfterItWasCached) {
  Token sibling = attenuate(plain, caveat_ops(kReadOnlyFsOps)).value();
  ASSERT_TRUE(r.redeem(sibling));
  r.revoke(a);
  EXPECT_FALSE(r.redeem(a));
  EXPECT_FALSE(r.redeem(ab));
  EXPECT_FALSE(r.redeem(attenuate(ab, caveat_max_bytes(1)).value()));
  EXPECT_TRUE(r.redeem(sibling));
  EXPECT_TRUE(r.redeem(plain));
  // The cache forgot a and ab (so their tags are wiped), and their refused
  // redeems left nothing of them: the root and the sibling remain.
  EXPECT_EQ(r.chains.size(), 2u);
}

TEST_F(ChainCacheAttack, RedeemingRevokedBranchesAgainAndAgainKeepsTheCacheBounded) {
  r.revoke(a);
  ASSERT_EQ(r.chains.size(), 1u);  // the root
  const std::size_t before = r.chains.entries();
  // A peer replays revoked tokens (and fresh extensions of them, which it can
  // make without the key): each is refused, and the cache neither grows nor
  // churns.
  for (int i = 0; i < 5000; ++i) {
    ASSERT_FALSE(r.redeem(a));
    ASSERT_FALSE(r.redeem(ab));
    ASSERT_FALSE(r.redeem(attenuate(a, caveat_expires(i)).value()));
    ASSERT_EQ(r.chains.size(), 1u);
    ASSERT_LE(r.chains.entries(), before) << "after " << i << " rounds";
  }
  EXPECT_TRUE(r.redeem(plain));
}

TEST_F(ChainCacheAttack, ARevokedObjectIsRefusedAfterItWasCached) {
  r.revoke(plain);
  EXPECT_EQ(r.chains.size(), 0u);
  EXPECT_FALSE(r.redeem(plain));
  EXPECT_FALSE(r.redeem(ab));
  EXPECT_EQ(r.chains.size(), 0u);
}

TEST_F(ChainCacheAttack, AnotherObjectsKeyNeverMeetsACachedRoot) {
  // The same object id and caveats, checked with another key (another
  // store's master): the cached tag_0 is not used.
  ObjectKey other = derive_object_key(MasterKey::random(), ab.object);
  EXPECT_FALSE(r.chains.verify(ab, other, false).valid);
  EXPECT_TRUE(r.chains.verify(ab, derive_object_key(r.master, ab.object), false).valid);
}

TEST_F(ChainCacheAttack, AFloodOfValidTokensStaysWithinTheBound) {
  for (int i = 0; i < 500; ++i) {
    Token fresh = attenuate(plain, caveat_expires(i)).value();
    ASSERT_TRUE(r.redeem(fresh));
    ASSERT_LE(r.chains.size(), 64u);
  }
  // Evicted chains are verified from scratch: still right.
  EXPECT_TRUE(r.redeem(ab));
  Token forged = ab;
  forged.tag[0] ^= 1;
  EXPECT_FALSE(r.redeem(forged));
}

}  // namespace
}  // namespace vatic::caps
