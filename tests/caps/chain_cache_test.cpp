#include "caps/chain_cache.h"

#include <gtest/gtest.h>

#include <vector>

#include "caps/caveat.h"

namespace vatic::caps {
namespace {

// Every answer of the cache is verify_chain's: the verdict and the ids.
void expect_same(ChainCache& cache, const Token& t, const ObjectKey& key) {
  for (bool rids : {true, false}) {
    ChainCheck want = verify_chain(t, key, rids);
    ChainCheck got = cache.verify(t, key, rids);
    EXPECT_EQ(got.valid, want.valid);
    EXPECT_EQ(got.revocation_ids, want.revocation_ids);
  }
}

TEST(ChainCache, AnswersAsVerifyChainForPrefixesExtensionsAndForgeries) {
  MasterKey master = MasterKey::random();
  ObjectId object = new_object_id();
  ObjectKey key = derive_object_key(master, object);
  VatKey vat{};
  vat.fill(7);
  ChainCache cache;
  Token t = mint(key, vat, object);
  std::vector<Token> chain{t};
  for (int i = 0; i < 5; ++i) chain.push_back(attenuate(chain.back(), caveat_expires(100 + i)).value());
  // Longest first, then every prefix (all cached), then again.
  for (int round = 0; round < 2; ++round)
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) expect_same(cache, *it, key);
  EXPECT_EQ(cache.size(), chain.size());
  // A branch off the middle: only its new caveat is added.
  Token branch = attenuate(chain[2], caveat_max_bytes(9)).value();
  expect_same(cache, branch, key);
  EXPECT_EQ(cache.size(), chain.size() + 1);
  Token forged = branch;
  forged.tag[31] ^= 0x80;
  expect_same(cache, forged, key);
  Token other_vat = chain[3];
  other_vat.vat[0] ^= 1;
  expect_same(cache, other_vat, key);
  EXPECT_EQ(cache.size(), chain.size() + 1);
}

TEST(ChainCache, ForgettingDropsTheBranchAndEverythingUnderIt) {
  MasterKey master = MasterKey::random();
  ObjectId object = new_object_id();
  ObjectKey key = derive_object_key(master, object);
  ChainCache cache;
  Token root = mint(key, {}, object);
  Token a = attenuate(root, caveat_max_bytes(1)).value();
  Token ab = attenuate(a, caveat_max_bytes(2)).value();
  Token c = attenuate(root, caveat_max_bytes(3)).value();
  ASSERT_TRUE(cache.verify(ab, key).valid);
  ASSERT_TRUE(cache.verify(c, key).valid);
  EXPECT_EQ(cache.size(), 4u);
  cache.forget_branch(revocation_id(a.tag));
  EXPECT_EQ(cache.size(), 2u);  // root and c
  cache.forget_object(object);
  EXPECT_EQ(cache.size(), 0u);
  expect_same(cache, ab, key);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ChainCache, StaysWithinItsCapacity) {
  ChainCache cache(3);
  MasterKey master = MasterKey::random();
  for (int i = 0; i < 20; ++i) {
    ObjectId object = new_object_id();
    ObjectKey key = derive_object_key(master, object);
    Token t = attenuate(mint(key, {}, object), caveat_max_bytes(static_cast<std::uint64_t>(i))).value();
    expect_same(cache, t, key);
    EXPECT_LE(cache.size(), 3u);
  }
}

TEST(ChainCache, ABranchAddedAndDroppedAgainAndAgainLeavesNothingBehind) {
  MasterKey master = MasterKey::random();
  ObjectId object = new_object_id();
  ObjectKey key = derive_object_key(master, object);
  ChainCache cache(16);
  Token root = mint(key, {}, object);
  Token a = attenuate(root, caveat_max_bytes(1)).value();
  ASSERT_TRUE(cache.verify(root, key).valid);
  const std::size_t before = cache.entries();
  // What a redeemer without the store check does for a revoked branch:
  // verify (which enters it), refuse, forget it.
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(cache.verify(a, key).valid);
    cache.forget_branch(revocation_id(a.tag));
    ASSERT_EQ(cache.size(), 1u);
    // The eviction list keeps dropped ids up to twice the capacity.
    ASSERT_LE(cache.entries(), before + 2 * 16) << "after " << i << " redeems";
  }
}

TEST(ChainCache, ARevokedNodeIsNotEntered) {
  MasterKey master = MasterKey::random();
  ObjectId object = new_object_id();
  ObjectKey key = derive_object_key(master, object);
  ChainCache cache;
  Token root = mint(key, {}, object);
  Token a = attenuate(root, caveat_max_bytes(1)).value();
  Token ab = attenuate(a, caveat_max_bytes(2)).value();
  RevocationId cut = revocation_id(a.tag);
  auto revoked = [&](const RevocationId& rid) { return rid == cut; };
  ChainCheck check = cache.verify(ab, key, true, revoked);
  EXPECT_TRUE(check.valid);  // the verdict is the tag's; the redeemer refuses by the ids
  EXPECT_EQ(check.revocation_ids, verify_chain(ab, key, true).revocation_ids);
  EXPECT_EQ(cache.size(), 1u);  // the root only: a and ab are not entered
  expect_same(cache, ab, key);
}

}  // namespace
}  // namespace vatic::caps
