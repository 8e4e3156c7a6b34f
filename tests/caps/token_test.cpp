#include "caps/token.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "caps/caveat.h"
#include "vat/error.h"

namespace vatic::caps {
namespace {

VatKey vat_key(std::uint8_t fill) {
  VatKey k;
  k.fill(fill);
  return k;
}

ObjectId object_id(std::uint8_t fill) {
  ObjectId o;
  o.fill(fill);
  return o;
}

MasterKey master(std::uint8_t fill) {
  std::array<std::uint8_t, kKeyBytes> b;
  b.fill(fill);
  return MasterKey::from(b);
}

// BLAKE2b-256 with key, zero salt and the zero-padded label: token.md's MAC,
// computed here straight from libsodium, independently of token.cpp.
std::array<std::uint8_t, 32> mac(std::span<const std::uint8_t> key, std::span<const std::uint8_t> m,
                                 const char* label) {
  std::array<std::uint8_t, 16> personal{}, salt{};
  std::memcpy(personal.data(), label, std::strlen(label));
  std::array<std::uint8_t, 32> out;
  EXPECT_EQ(
      crypto_generichash_blake2b_salt_personal(out.data(), 32, m.data(), m.size(), key.empty() ? nullptr : key.data(),
                                               key.size(), salt.data(), personal.data()),
      0);
  return out;
}

TEST(Token, ChainMatchesTheSpecComputedIndependently) {
  auto m = master(7);
  auto obj = object_id(9);
  auto key = derive_object_key(m, obj);
  auto expect_key = mac(m.span(), obj, "vatic-objkey-v1");
  EXPECT_EQ(0, std::memcmp(key.data(), expect_key.data(), 32));

  Bytes body{1};
  auto vat = vat_key(3);
  body.insert(body.end(), vat.begin(), vat.end());
  body.insert(body.end(), obj.begin(), obj.end());
  auto tag0 = mac(key.span(), body, "vatic-token-v1");
  Token t = mint(key, vat, obj);
  EXPECT_EQ(t.tag, tag0);
  EXPECT_TRUE(t.caveats.empty());

  auto c = caveat_expires(1000);
  auto t1 = attenuate(t, c);
  ASSERT_TRUE(t1) << t1.error();
  EXPECT_EQ(t1->tag, mac(tag0, c, "vatic-caveat-v1"));
  EXPECT_EQ(revocation_id(t1->tag), mac({}, t1->tag, "vatic-revoke-v1"));
}

// Computed with Python's hashlib.blake2b (key, salt = 16 zero bytes, person =
// the label) from token.md alone: master key 0x41 * 32, object id 0x42 * 16,
// the RFC 8032 test key as vat id, caveats expires(1700000000) and ops(read,list).
constexpr char kVectorHex[] =
    "01d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a4242424242424242424242424242424202000901000000"
    "006553f10000021103218dc3b65d974b87b1729fdb8b1ff944dd5713cc5c1479cf954afd227fad0f2d";

TEST(Token, MatchesAnIndependentlyComputedVector) {
  Bytes expected;
  for (std::size_t i = 0; kVectorHex[i]; i += 2)
    expected.push_back(std::stoi(std::string(kVectorHex + i, 2), nullptr, 16));
  VatKey vat;
  std::copy(expected.begin() + 1, expected.begin() + 33, vat.begin());
  auto key = derive_object_key(master(0x41), object_id(0x42));
  auto t = mint(key, vat, object_id(0x42));
  t = attenuate(t, caveat_expires(1700000000)).value();
  t = attenuate(t, caveat_ops(kReadOnlyFsOps)).value();
  EXPECT_EQ(encode_token(t), expected);
  auto back = decode_token(expected);
  ASSERT_TRUE(back) << back.error();
  EXPECT_TRUE(verify_chain(*back, key).valid);
}

TEST(Token, EncodingFollowsTheBinaryFormat) {
  auto key = derive_object_key(master(1), object_id(2));
  auto t = attenuate(mint(key, vat_key(3), object_id(2)), caveat_ops(kReadOnlyFsOps)).value();
  Bytes b = encode_token(t);
  ASSERT_EQ(b.size(), kMinTokenBytes + 2 + 2);
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[1], 3);
  EXPECT_EQ(b[33], 2);
  EXPECT_EQ(b[49], 1);  // caveat count
  EXPECT_EQ(b[50], 0);  // u16 big-endian length
  EXPECT_EQ(b[51], 2);
  EXPECT_EQ(b[52], 0x11);
  EXPECT_EQ(b[53], kReadOnlyFsOps);
  EXPECT_TRUE(std::equal(t.tag.begin(), t.tag.end(), b.end() - 32));
  auto back = decode_token(b);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, t);
}

TEST(Token, PlainTokenVerifiesWithItsKeyOnly) {
  auto obj = new_object_id();
  auto key = derive_object_key(master(1), obj);
  auto t = mint(key, vat_key(5), obj);
  auto ok = verify_chain(t, key);
  EXPECT_TRUE(ok.valid);
  ASSERT_EQ(ok.revocation_ids.size(), 1u);
  EXPECT_EQ(ok.revocation_ids[0], revocation_id(t.tag));
  EXPECT_FALSE(verify_chain(t, derive_object_key(master(2), obj)).valid);
  EXPECT_FALSE(verify_chain(t, derive_object_key(master(1), new_object_id())).valid);
}

TEST(Token, RevocationIdsNameEveryPrefix) {
  auto key = ObjectKey::random();
  auto t0 = mint(key, vat_key(1), object_id(1));
  auto t1 = attenuate(t0, caveat_expires(50)).value();
  auto t2 = attenuate(t1, caveat_ops(1)).value();
  auto sibling = attenuate(t1, caveat_ops(2)).value();
  auto check = verify_chain(t2, key);
  ASSERT_TRUE(check.valid);
  ASSERT_EQ(check.revocation_ids.size(), 3u);
  EXPECT_EQ(check.revocation_ids[0], revocation_id(t0.tag));
  EXPECT_EQ(check.revocation_ids[1], revocation_id(t1.tag));
  EXPECT_EQ(check.revocation_ids[2], revocation_id(t2.tag));
  auto sib = verify_chain(sibling, key);
  EXPECT_EQ(sib.revocation_ids[1], check.revocation_ids[1]);  // shared branch
  EXPECT_NE(sib.revocation_ids[2], check.revocation_ids[2]);  // separate leaves
  // The store keeps hashes, never tags.
  EXPECT_NE(0, std::memcmp(check.revocation_ids[2].data(), t2.tag.data(), 32));
}

TEST(Token, DerivedKeysDifferPerObjectAndMaster) {
  auto a = derive_object_key(master(1), object_id(1));
  auto b = derive_object_key(master(1), object_id(2));
  auto c = derive_object_key(master(2), object_id(1));
  auto a2 = derive_object_key(master(1), object_id(1));
  EXPECT_NE(0, std::memcmp(a.data(), b.data(), 32));
  EXPECT_NE(0, std::memcmp(a.data(), c.data(), 32));
  EXPECT_EQ(0, std::memcmp(a.data(), a2.data(), 32));
}

TEST(Token, RandomIdsAndKeysAreDistinct) {
  std::set<ObjectId> ids;
  for (int i = 0; i < 100; ++i) ids.insert(new_object_id());
  EXPECT_EQ(ids.size(), 100u);
  auto k1 = SecretKey::random(), k2 = SecretKey::random();
  EXPECT_NE(0, std::memcmp(k1.data(), k2.data(), 32));
}

TEST(Token, SecretKeyWipesWhenMovedFrom) {
  auto k = SecretKey::random();
  auto copy = k.copy();
  SecretKey moved = std::move(k);
  EXPECT_EQ(0, std::memcmp(moved.data(), copy.data(), 32));
  std::array<std::uint8_t, 32> zero{};
  EXPECT_EQ(0, std::memcmp(k.data(), zero.data(), 32));  // NOLINT: inspecting the moved-from key on purpose
}

TEST(Token, AttenuateRefusesInvalidCaveatsAndLimits) {
  auto key = ObjectKey::random();
  auto t = mint(key, vat_key(1), object_id(1));
  EXPECT_FALSE(attenuate(t, Bytes{}));
  EXPECT_FALSE(attenuate(t, Bytes{0x7f, 1}));
  EXPECT_FALSE(attenuate(t, Bytes{0x11, 0x20}));
  for (std::size_t i = 0; i < kMaxCaveats; ++i) t = attenuate(t, caveat_max_bytes(i)).value();
  auto over = attenuate(t, caveat_max_bytes(1));
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().find("32"), std::string::npos);
  EXPECT_TRUE(verify_chain(t, key).valid);
}

TEST(Token, AttenuateRefusesToExceedTheTokenSize) {
  auto key = ObjectKey::random();
  auto t = mint(key, vat_key(1), object_id(1));
  std::string long_path(1000, 'a');
  int added = 0;
  for (;;) {
    auto next = attenuate(t, caveat_path(long_path).value());
    if (!next) {
      EXPECT_NE(next.error().find("8192"), std::string::npos) << next.error();
      break;
    }
    t = std::move(next).value();
    ++added;
  }
  EXPECT_EQ(added, 8);  // 82 + 8 * 1003 <= 8192 < 82 + 9 * 1003
  EXPECT_LE(encode_token(t).size(), kMaxTokenBytes);
  EXPECT_TRUE(verify_chain(t, key).valid);
}

TEST(Token, DecodeNamesEachFailure) {
  auto t = attenuate(mint(ObjectKey::random(), vat_key(1), object_id(1)), caveat_ops(1)).value();
  Bytes good = encode_token(t);
  auto expect_error = [](const Bytes& b, const std::string& part) {
    auto r = decode_token(b);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find(part), std::string::npos) << r.error();
  };
  expect_error(Bytes(good.begin(), good.begin() + 81), "shorter");
  expect_error(Bytes(kMaxTokenBytes + 1, 1), "longer");
  Bytes v2 = good;
  v2[0] = 2;
  expect_error(v2, "version");
  Bytes many = good;
  many[49] = 33;
  expect_error(many, "caveats");
  Bytes empty_caveat = good;
  empty_caveat[50] = 0, empty_caveat[51] = 0;
  expect_error(empty_caveat, "empty");
  Bytes big_caveat = good;
  big_caveat[50] = 4, big_caveat[51] = 1;
  expect_error(big_caveat, "1024");
  Bytes trailing = good;
  trailing.push_back(0);
  expect_error(trailing, "trailing");
  Bytes past_end = good;
  past_end[51] = 100;
  expect_error(past_end, "inside");
}

TEST(Token, ValueOfAFailedResultIsACallerBug) {
  auto r = decode_token(Bytes{1, 2, 3});
  EXPECT_THROW((void)r.value(), VatError);
}

TEST(Token, EncodeRefusesTokensBeyondTheLimits) {
  Token t;
  t.caveats.assign(kMaxCaveats + 1, Bytes{0x11, 1});
  EXPECT_THROW(encode_token(t), VatError);
  t.caveats.assign(1, Bytes(kMaxCaveatBytes + 1, 0x10));
  EXPECT_THROW(encode_token(t), VatError);
}

// Any chain of valid caveats verifies, decodes to itself, and yields one
// revocation id per prefix.
RC_GTEST_PROP(TokenProperty, AnyAttenuationChainVerifiesAndRoundTrips, ()) {
  auto key = ObjectKey::random();
  auto vat = *rc::gen::arbitrary<std::array<std::uint8_t, 32>>();
  auto obj = new_object_id();
  Token t = mint(key, vat, obj);
  auto n = *rc::gen::inRange<std::size_t>(0, 12);
  for (std::size_t i = 0; i < n; ++i) {
    auto choice = *rc::gen::inRange(0, 4);
    Bytes c = choice == 0   ? caveat_expires(*rc::gen::arbitrary<std::int64_t>())
              : choice == 1 ? caveat_ops(*rc::gen::inRange<int>(0, 32))
              : choice == 2 ? caveat_max_bytes(*rc::gen::arbitrary<std::uint64_t>())
                            : caveat_holder(*rc::gen::arbitrary<std::array<std::uint8_t, 32>>());
    t = attenuate(t, c).value();
  }
  auto check = verify_chain(t, key);
  RC_ASSERT(check.valid);
  RC_ASSERT(check.revocation_ids.size() == n + 1);
  auto back = decode_token(encode_token(t));
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == t);
}

// Any change to the encoding of a valid token (one or more bytes XORed)
// either fails to decode or fails to verify.
RC_GTEST_PROP(TokenProperty, AnyMutationFails, ()) {
  auto key = ObjectKey::random();
  auto obj = new_object_id();
  Token t = mint(key, *rc::gen::arbitrary<std::array<std::uint8_t, 32>>(), obj);
  auto n = *rc::gen::inRange<std::size_t>(0, 6);
  for (std::size_t i = 0; i < n; ++i) t = attenuate(t, caveat_max_bytes(*rc::gen::arbitrary<std::uint64_t>())).value();
  Bytes b = encode_token(t);
  auto edits = *rc::gen::inRange<std::size_t>(1, 4);
  for (std::size_t i = 0; i < edits; ++i) {
    auto at = *rc::gen::inRange<std::size_t>(0, b.size());
    b[at] ^= *rc::gen::inRange<int>(1, 256);
  }
  RC_PRE(b != encode_token(t));  // edits that cancel out are no mutation
  auto back = decode_token(b);
  if (back) RC_ASSERT(!verify_chain(*back, key).valid);
}

}  // namespace
}  // namespace vatic::caps
