// Attacks on tokens and sturdy-ref URIs (spec/token.md, spec/sturdyref.md):
// a holder of a genuine, attenuated token tries to widen it (strip, reorder,
// splice or forge caveats), to move it to another object or vat, to slip
// malformed bytes past the decoder, and to dodge revocation. Each attack runs
// the redeemer's order of checks (redeem() below) on the real functions.
#include "caps/token.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "caps/caveat.h"
#include "sturdyrefs/uri.h"

namespace vatic::caps {
namespace {

// The victim vat's store, reduced to what redeeming needs: a master key, the
// known objects and the revocation sets.
struct Store {
  MasterKey master = MasterKey::random();
  VatKey vat{};
  std::set<ObjectId> objects;
  std::set<ObjectId> revoked_objects;
  std::set<RevocationId> revoked;

  Token issue() {
    ObjectId id = new_object_id();
    objects.insert(id);
    return mint(derive_object_key(master, id), vat, id);
  }
  void revoke(const Token& t) {
    if (t.caveats.empty()) {
      revoked_objects.insert(t.object);
    } else {
      revoked.insert(revocation_id(t.tag));
    }
  }
};

// token.md: redeeming, steps 1-7, with the outward reasons.
std::string redeem(const Store& s, std::span<const std::uint8_t> bytes, std::int64_t now,
                   std::optional<VatKey> peer = std::nullopt) {
  auto token = decode_token(bytes);
  if (!token) return "refused: malformed token";
  if (token->vat != s.vat) return "refused: token is for another vat";
  bool known = s.objects.count(token->object) && !s.revoked_objects.count(token->object);
  // An unknown object still costs a chain computation, with a fixed key.
  auto check = verify_chain(*token, known ? derive_object_key(s.master, token->object) : ObjectKey{});
  if (!known || !check.valid) return "refused: invalid token";
  for (const auto& rid : check.revocation_ids)
    if (s.revoked.count(rid)) return "refused: invalid token";
  auto caveats = parse_caveats(token->caveats);
  if (!caveats) return "refused: invalid caveat";
  if (auto why = check_time(*caveats, now)) return *why;
  if (auto why = check_holder(*caveats, peer)) return *why;
  return "ok";
}
std::string redeem(const Store& s, const Token& t, std::int64_t now, std::optional<VatKey> peer = std::nullopt) {
  return redeem(s, encode_token(t), now, peer);
}

class TokenAttack : public ::testing::Test {
 protected:
  TokenAttack() {
    store.vat.fill(0x5a);
    plain = store.issue();
    narrowed = attenuate(plain, caveat_expires(1000)).value();
    narrowed = attenuate(narrowed, caveat_path("docs").value()).value();
    narrowed = attenuate(narrowed, caveat_ops(kReadOnlyFsOps)).value();
  }
  Store store;
  Token plain, narrowed;
};

TEST_F(TokenAttack, GenuineTokensRedeem) {
  EXPECT_EQ(redeem(store, plain, 0), "ok");
  EXPECT_EQ(redeem(store, narrowed, 999), "ok");
}

TEST_F(TokenAttack, EverySingleBitFlipFails) {
  Bytes good = encode_token(narrowed);
  for (std::size_t byte = 0; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = good;
      bad[byte] ^= static_cast<std::uint8_t>(1 << bit);
      EXPECT_NE(redeem(store, bad, 0), "ok") << "byte " << byte << " bit " << bit;
    }
  }
}

TEST_F(TokenAttack, StrippingACaveatFails) {
  for (std::size_t i = 0; i < narrowed.caveats.size(); ++i) {
    Token t = narrowed;
    t.caveats.erase(t.caveats.begin() + static_cast<std::ptrdiff_t>(i));
    EXPECT_EQ(redeem(store, t, 0), "refused: invalid token") << i;
  }
  Token all = narrowed;
  all.caveats.clear();
  EXPECT_EQ(redeem(store, all, 0), "refused: invalid token");
}

TEST_F(TokenAttack, ReorderingCaveatsFails) {
  Token t = narrowed;
  std::swap(t.caveats[0], t.caveats[2]);
  EXPECT_EQ(redeem(store, t, 0), "refused: invalid token");
  t = narrowed;
  std::rotate(t.caveats.begin(), t.caveats.begin() + 1, t.caveats.end());
  EXPECT_EQ(redeem(store, t, 0), "refused: invalid token");
}

TEST_F(TokenAttack, AppendingADuplicateIsLegalButSplicingItElsewhereFails) {
  auto dup = attenuate(narrowed, narrowed.caveats[0]).value();
  EXPECT_EQ(redeem(store, dup, 0), "ok");
  Token spliced = dup;  // the copy moved from the end to the front, with dup's tag
  std::rotate(spliced.caveats.rbegin(), spliced.caveats.rbegin() + 1, spliced.caveats.rend());
  ASSERT_NE(spliced.caveats, dup.caveats);
  EXPECT_EQ(redeem(store, spliced, 0), "refused: invalid token");
  Token inserted = narrowed;  // a copy spliced in with the old tag
  inserted.caveats.insert(inserted.caveats.begin() + 1, narrowed.caveats[2]);
  EXPECT_EQ(redeem(store, inserted, 0), "refused: invalid token");
}

TEST_F(TokenAttack, ChangingACaveatToAWeakerOneFails) {
  Token t = narrowed;
  t.caveats[0] = caveat_expires(1'000'000);
  EXPECT_EQ(redeem(store, t, 0), "refused: invalid token");
  t = narrowed;
  t.caveats[2] = caveat_ops(kAllFsOps);
  EXPECT_EQ(redeem(store, t, 0), "refused: invalid token");
}

TEST_F(TokenAttack, UnknownCaveatsAreRejectedEvenWithAValidChain) {
  // attenuate() refuses unknown caveats, but any holder can compute the chain
  // step by hand (token.md: tag_i = MAC_caveat(tag_(i-1), caveat_i)): the
  // chain verifies, and the unknown type must still fail closed.
  Bytes unknown{0x7e, 1, 2, 3};
  ASSERT_FALSE(attenuate(narrowed, unknown));
  std::array<std::uint8_t, 16> personal{}, salt{};
  std::string label = "vatic-caveat-v1";
  std::copy(label.begin(), label.end(), personal.begin());
  Token t = narrowed;
  t.caveats.push_back(unknown);
  ASSERT_EQ(crypto_generichash_blake2b_salt_personal(t.tag.data(), 32, unknown.data(), unknown.size(),
                                                     narrowed.tag.data(), 32, salt.data(), personal.data()),
            0);
  EXPECT_TRUE(verify_chain(t, derive_object_key(store.master, t.object)).valid);
  EXPECT_EQ(redeem(store, t, 0), "refused: invalid caveat");
  // The same for a known type with a non-canonical payload (ops with an unknown bit).
  Token bits = narrowed;
  Bytes wide_ops{0x11, 0xff};
  bits.caveats.push_back(wide_ops);
  crypto_generichash_blake2b_salt_personal(bits.tag.data(), 32, wide_ops.data(), wide_ops.size(), narrowed.tag.data(),
                                           32, salt.data(), personal.data());
  EXPECT_EQ(redeem(store, bits, 0), "refused: invalid caveat");
}

TEST_F(TokenAttack, TruncatedOversizedAndTrailingBytesAreMalformed) {
  Bytes good = encode_token(narrowed);
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_EQ(redeem(store, std::span(good).first(n), 0), "refused: malformed token") << n;
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(redeem(store, trailing, 0), "refused: malformed token");
  Bytes oversized = good;
  oversized.resize(kMaxTokenBytes + 1);
  EXPECT_EQ(redeem(store, oversized, 0), "refused: malformed token");
  Bytes huge_count = good;
  huge_count[49] = 0xff;
  EXPECT_EQ(redeem(store, huge_count, 0), "refused: malformed token");
}

TEST_F(TokenAttack, AnotherVatOrAnotherObjectsTagFails) {
  Token t = plain;
  t.vat[0] ^= 1;
  EXPECT_EQ(redeem(store, t, 0), "refused: token is for another vat");
  Token other = store.issue();
  Token moved = other;
  moved.tag = plain.tag;  // tag from another object
  EXPECT_EQ(redeem(store, moved, 0), "refused: invalid token");
  Token unknown = plain;
  unknown.object = new_object_id();
  EXPECT_EQ(redeem(store, unknown, 0), "refused: invalid token");
  // A token minted under another vat's master key, relabelled as ours.
  Store mallory;
  mallory.vat = store.vat;
  mallory.objects = store.objects;
  Token forged = mint(derive_object_key(mallory.master, plain.object), store.vat, plain.object);
  EXPECT_EQ(redeem(store, forged, 0), "refused: invalid token");
}

TEST_F(TokenAttack, RevokedPrefixesCutOffTheWholeBranchOnly) {
  Token branch = attenuate(plain, caveat_methods({"get"}).value()).value();
  Token leaf = attenuate(branch, caveat_expires(50)).value();
  Token sibling = attenuate(plain, caveat_methods({"put"}).value()).value();
  store.revoke(branch);
  EXPECT_EQ(redeem(store, branch, 0), "refused: invalid token");
  EXPECT_EQ(redeem(store, leaf, 0), "refused: invalid token");
  EXPECT_EQ(redeem(store, sibling, 0), "ok");
  EXPECT_EQ(redeem(store, plain, 0), "ok");
  // Appending more caveats does not escape a revoked prefix.
  Token deeper = attenuate(leaf, caveat_expires(40)).value();
  EXPECT_EQ(redeem(store, deeper, 0), "refused: invalid token");
  store.revoke(plain);  // no caveats: the object
  EXPECT_EQ(redeem(store, sibling, 0), "refused: invalid token");
  EXPECT_EQ(redeem(store, narrowed, 0), "refused: invalid token");
}

TEST_F(TokenAttack, TimeAndHolderCaveatsHold) {
  EXPECT_EQ(redeem(store, narrowed, 1000), "refused: token expired");
  Token later = attenuate(plain, caveat_not_before(500)).value();
  EXPECT_EQ(redeem(store, later, 499), "refused: token not yet valid");
  EXPECT_EQ(redeem(store, later, 500), "ok");
  VatKey alice, bob;
  alice.fill(1);
  bob.fill(2);
  Token bound = attenuate(plain, caveat_holder(alice)).value();
  EXPECT_EQ(redeem(store, bound, 0, alice), "ok");
  EXPECT_EQ(redeem(store, bound, 0, bob), "refused: token is bound to another holder");
  EXPECT_EQ(redeem(store, bound, 0, std::nullopt), "refused: token is bound to another holder");
  // Bob cannot add himself as a second holder to get in.
  Token rebound = attenuate(bound, caveat_holder(bob)).value();
  EXPECT_EQ(redeem(store, rebound, 0, bob), "refused: token is bound to another holder");
}

// --- URIs

class UriAttack : public ::testing::Test {
 protected:
  captp::Identity victim = captp::Identity::generate();
  Token token = mint(ObjectKey::random(), victim.id().bytes(), new_object_id());
  std::string text = sturdyrefs::format_sturdy_ref({victim.id(), {"victim.example:4242"}, token});
};

TEST_F(UriAttack, PaddingAndBadBase64AreRejected) {
  ASSERT_TRUE(sturdyrefs::parse_sturdy_ref(text));
  for (const std::string& suffix :
       {std::string("="), std::string("=="), std::string("%3D"), std::string("\n"), std::string("\0", 1)}) {
    EXPECT_FALSE(sturdyrefs::parse_sturdy_ref(text + suffix)) << suffix;
  }
  std::string slash = text;
  slash[slash.size() - 5] = '/';
  EXPECT_FALSE(sturdyrefs::parse_sturdy_ref(slash));
  std::string std_alphabet = text;
  std_alphabet[std_alphabet.size() - 5] = '+';
  EXPECT_FALSE(sturdyrefs::parse_sturdy_ref(std_alphabet));
}

TEST_F(UriAttack, MismatchedVatIdIsRejected) {
  auto mallory = captp::Identity::generate();
  std::string swapped = text;
  swapped.replace(8, captp::kVatIdTextChars, mallory.id().to_text());
  auto r = sturdyrefs::parse_sturdy_ref(swapped);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("another vat"), std::string::npos);
}

TEST_F(UriAttack, TooManyHintsAndOverlongInputAreRejected) {
  std::string many = text;
  std::string extra;
  for (int i = 0; i < 100; ++i) extra += ",h:" + std::to_string(i);
  many.insert(many.find("4242") + 4, extra);
  EXPECT_FALSE(sturdyrefs::parse_sturdy_ref(many));
  EXPECT_FALSE(sturdyrefs::parse_sturdy_ref(text + std::string(1 << 20, 'A')));
  EXPECT_FALSE(sturdyrefs::parse_sturdy_ref(std::string(1 << 20, ',')));
}

TEST_F(UriAttack, EveryTruncationAndSingleByteEditFailsOrIsEquivalent) {
  for (std::size_t n = 0; n < text.size(); ++n) EXPECT_FALSE(sturdyrefs::parse_sturdy_ref(text.substr(0, n))) << n;
  // A changed byte either fails or parses to a ref whose canonical text is the edited text.
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::string edited = text;
    edited[i] = static_cast<char>(edited[i] ^ 0x20);
    auto r = sturdyrefs::parse_sturdy_ref(edited);
    if (r) {
      EXPECT_EQ(sturdyrefs::format_sturdy_ref(*r), edited) << i;
    }
  }
}

}  // namespace
}  // namespace vatic::caps
