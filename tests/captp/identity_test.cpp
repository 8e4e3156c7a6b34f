#include "captp/identity.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <unordered_set>
#include <vector>

#include "tests/captp/crypto_test_util.h"
#include "vat/error.h"

namespace vatic::captp {
namespace {

using test::from_hex;

// RFC 8032 section 7.1, TEST 1 (empty message).
constexpr char kRfcSeed[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kRfcPublic[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr char kRfcSignature[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe2465"
    "5"
    "141438e7a100b";
// The text form of kRfcPublic, computed independently (Python: base64.b32encode and
// hashlib.blake2b(b"vatic-vat-id-v1" + key, digest_size=32)[:3]).
constexpr char kRfcText[] = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenaowmn";

Identity rfc_identity() { return Identity::from_seed(test::secret_from_hex<32>(kRfcSeed)); }

// Builds the text form of arbitrary key bytes (valid or not), as an attacker would.
std::string text_for_raw_key(const std::vector<uint8_t>& key) {
  std::vector<uint8_t> in = {'v', 'a', 't', 'i', 'c', '-', 'v', 'a', 't', '-', 'i', 'd', '-', 'v', '1'};
  in.insert(in.end(), key.begin(), key.end());
  uint8_t digest[32];
  crypto_generichash(digest, sizeof digest, in.data(), in.size(), nullptr, 0);
  std::vector<uint8_t> raw = key;
  raw.insert(raw.end(), digest, digest + 3);
  return test::base32(raw);
}

TEST(VatId, FromSeedMatchesRfc8032AndTheIndependentTextForm) {
  auto id = rfc_identity();
  EXPECT_EQ(std::vector<uint8_t>(id.id().bytes().begin(), id.id().bytes().end()), from_hex(kRfcPublic));
  EXPECT_EQ(id.id().to_text(), kRfcText);
  EXPECT_EQ(id.id().to_text().size(), kVatIdTextChars);
}

// VatId::parse and parse_bytes, keeping the refusal's reason in `why`.
Result<VatId> parse_why(std::string& why, std::string_view text) {
  auto r = VatId::parse(text);
  why = r.error();
  return r;
}
Result<VatId> parse_bytes_why(std::string& why, std::span<const uint8_t> key) {
  auto r = VatId::parse_bytes(key);
  why = r.error();
  return r;
}

TEST(VatId, TextRoundTripsForRandomIdentities) {
  for (int i = 0; i < 50; ++i) {
    auto id = Identity::generate().id();
    auto back = VatId::parse(id.to_text());
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(*back, id);
  }
}

TEST(VatId, ParseChecksLengthFirst) {
  std::string why;
  EXPECT_FALSE(parse_why(why, ""));
  EXPECT_EQ(why, "a vat id is 56 characters, got 0");
  EXPECT_FALSE(parse_why(why, std::string(kRfcText) + "a"));
  EXPECT_EQ(why, "a vat id is 56 characters, got 57");
  EXPECT_FALSE(parse_why(why, std::string(kRfcText).substr(1)));
  EXPECT_EQ(why, "a vat id is 56 characters, got 55");
  EXPECT_FALSE(parse_why(why, std::string(kRfcText) + "=")) << "no padding is accepted";
}

TEST(VatId, ParseRejectsCharactersOutsideTheLowercaseAlphabet) {
  std::string why;
  std::string upper = kRfcText;
  upper[3] = 'Q';
  EXPECT_FALSE(parse_why(why, upper));
  EXPECT_EQ(why, "character 'Q' at offset 3 is not in the vat id alphabet (lowercase a-z and 2-7)");
  for (char bad : {'0', '1', '8', '9', '=', ' ', '\0', '\xff'}) {
    std::string t = kRfcText;
    t[10] = bad;
    EXPECT_FALSE(parse_why(why, t)) << int(bad);
    EXPECT_NE(why.find("at offset 10"), std::string::npos) << why;
  }
  std::string nul = kRfcText;
  nul[0] = '\0';
  (void)parse_why(why, nul);
  EXPECT_EQ(why, "character byte 0x00 at offset 0 is not in the vat id alphabet (lowercase a-z and 2-7)");
}

TEST(VatId, ParseRejectsEverySingleCharacterTypo) {
  const std::string good = kRfcText;
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  int rejected = 0, total = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (char c : alphabet) {
      if (c == good[i]) continue;
      std::string t = good;
      t[i] = c;
      ++total;
      if (!VatId::parse(t)) ++rejected;
    }
  }
  // Deterministic for this key. In general a 24-bit checksum lets about 2^-24
  // of random typos through, and the point check catches most of those.
  EXPECT_EQ(rejected, total);
}

TEST(VatId, ParseReportsAChecksumMismatch) {
  std::string t = kRfcText;
  t[55] = t[55] == 'a' ? 'b' : 'a';  // only the checksum's last bits
  std::string why;
  EXPECT_FALSE(parse_why(why, t));
  EXPECT_EQ(why, "checksum mismatch: the vat id was mistyped or altered");
}

TEST(VatId, ParseRejectsKeysThatAreNotPrimeOrderPoints) {
  std::string why;
  // The identity point (small order), encoded canonically, with a valid checksum.
  std::vector<uint8_t> identity_point(32, 0);
  identity_point[0] = 1;
  EXPECT_FALSE(parse_why(why, text_for_raw_key(identity_point)));
  EXPECT_EQ(why, "the key is not a valid Ed25519 public key (not a canonical point of the prime-order subgroup)");
  // All-zero bytes (a point of order 4) and a non-canonical y >= p.
  EXPECT_FALSE(parse_why(why, text_for_raw_key(std::vector<uint8_t>(32, 0))));
  std::vector<uint8_t> non_canonical(32, 0xff);
  non_canonical[31] = 0x7f;
  EXPECT_FALSE(parse_why(why, text_for_raw_key(non_canonical)));
  // A valid curve point outside the prime-order subgroup: public key + a point of order 8.
  std::vector<uint8_t> torsion = from_hex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
  std::vector<uint8_t> mixed(32);
  ASSERT_EQ(crypto_core_ed25519_add(mixed.data(), from_hex(kRfcPublic).data(), torsion.data()), 0);
  EXPECT_FALSE(parse_why(why, text_for_raw_key(mixed)));
  EXPECT_NE(why.find("not a valid Ed25519 public key"), std::string::npos);
}

TEST(VatId, ParseBytesAppliesTheSameKeyChecks) {
  std::string why;
  EXPECT_TRUE(parse_bytes_why(why, from_hex(kRfcPublic)));
  EXPECT_FALSE(parse_bytes_why(why, std::vector<uint8_t>(31, 1)));
  EXPECT_EQ(why, "a vat id key is 32 bytes, got 31");
  EXPECT_FALSE(parse_bytes_why(why, std::vector<uint8_t>(32, 0)));
  std::array<uint8_t, 32> zeros{};
  EXPECT_THROW(VatId::from_bytes(zeros), VatError);
}

TEST(VatId, ComparesAndHashesByKey) {
  auto a = Identity::generate().id();
  auto b = Identity::generate().id();
  EXPECT_EQ(a, *VatId::parse(a.to_text()));
  EXPECT_NE(a, b);
  EXPECT_TRUE((a < b) != (b < a));
  std::unordered_set<VatId> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(std::hash<VatId>{}(a), std::hash<VatId>{}(*VatId::parse(a.to_text())));
}

TEST(Identity, SignsAsRfc8032AndVerifies) {
  auto id = rfc_identity();
  auto sig = id.sign({});
  EXPECT_EQ(std::vector<uint8_t>(sig.begin(), sig.end()), from_hex(kRfcSignature));
  EXPECT_TRUE(verify(id.id(), {}, sig));
}

TEST(Identity, VerifyRejectsAlteredMessagesSignaturesAndSigners) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  std::vector<uint8_t> msg = {1, 2, 3, 4};
  auto sig = alice.sign(msg);
  EXPECT_TRUE(verify(alice.id(), msg, sig));
  EXPECT_FALSE(verify(bob.id(), msg, sig));
  auto other = msg;
  other[0] ^= 1;
  EXPECT_FALSE(verify(alice.id(), other, sig));
  for (std::size_t bit = 0; bit < sig.size() * 8; ++bit) {
    auto bad = sig;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(verify(alice.id(), msg, bad)) << bit;
  }
  EXPECT_FALSE(verify(alice.id(), msg, std::span<const uint8_t>(sig).first(63)));
  EXPECT_FALSE(verify(alice.id(), msg, {}));
}

TEST(Identity, SeedRestoresTheSameIdentity) {
  auto a = Identity::generate();
  auto b = Identity::from_seed(a.seed());
  EXPECT_EQ(a.id(), b.id());
  EXPECT_EQ(a.x25519_public(), b.x25519_public());
}

TEST(Identity, X25519KeysAreAPairAndMatchTheVatIdConversion) {
  auto id = Identity::generate();
  const auto& secret = id.x25519_secret();
  std::array<uint8_t, 32> derived{};
  ASSERT_EQ(crypto_scalarmult_curve25519_base(derived.data(), secret.data()), 0);
  EXPECT_EQ(derived, id.x25519_public());
  auto converted = x25519_public_of(id.id());
  ASSERT_TRUE(converted);
  EXPECT_EQ(*converted, id.x25519_public());
}

TEST(Secret, WipesOnMoveAndCopiesOnlyExplicitly) {
  Secret<32> a = test::secret_from_hex<32>(kRfcSeed);
  Secret<32> b = a.copy();
  EXPECT_EQ(0, sodium_memcmp(a.data(), b.data(), 32));
  Secret<32> c = std::move(a);
  EXPECT_EQ(0, sodium_memcmp(c.data(), b.data(), 32));
  EXPECT_TRUE(sodium_is_zero(a.data(), 32));  // NOLINT(bugprone-use-after-move): the point of the test
  b = std::move(c);
  EXPECT_TRUE(sodium_is_zero(c.data(), 32));  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(sodium_is_zero(b.data(), 32));
  static_assert(!std::is_copy_constructible_v<Secret<32>>);
  static_assert(Secret<64>::size() == 64);
}

}  // namespace
}  // namespace vatic::captp
