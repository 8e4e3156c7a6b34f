#include "sturdyrefs/uri.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "caps/caveat.h"
#include "vat/error.h"

namespace vatic::sturdyrefs {
namespace {

captp::VatId some_vat() {
  static const captp::Identity identity = captp::Identity::generate();
  return identity.id();
}

caps::Token token_for(const captp::VatId& vat, std::size_t caveats = 0) {
  auto key = caps::ObjectKey::random();
  auto t = caps::mint(key, vat.bytes(), caps::new_object_id());
  for (std::size_t i = 0; i < caveats; ++i) t = caps::attenuate(t, caps::caveat_expires(1000 + i)).value();
  return t;
}

SturdyRef ref_with(std::vector<std::string> hints, std::size_t caveats = 0) {
  return SturdyRef{some_vat(), std::move(hints), token_for(some_vat(), caveats)};
}

std::string error_of(std::string_view text) {
  auto r = parse_sturdy_ref(text);
  EXPECT_FALSE(r) << text;
  return r ? "" : r.error();
}

TEST(SturdyRefUri, FormatsTheSpecShapeAndParsesBack) {
  auto ref = ref_with({"example.org:4242", "[::1]:4242"}, 2);
  std::string text = format_sturdy_ref(ref);
  std::string prefix = "vatic://" + some_vat().to_text() + "@example.org:4242,[::1]:4242/";
  ASSERT_EQ(text.substr(0, prefix.size()), prefix);
  EXPECT_EQ(text.find('='), std::string::npos);
  auto back = parse_sturdy_ref(text);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, ref);
  EXPECT_EQ(format_sturdy_ref(*back), text);
  ASSERT_EQ(back->addresses().size(), 2u);
  EXPECT_EQ(back->addresses()[1], captp::Address::tcp("::1", 4242));
}

TEST(SturdyRefUri, NoHintsIsAllowedWithoutTheAtSign) {
  auto ref = ref_with({});
  std::string text = format_sturdy_ref(ref);
  EXPECT_EQ(text.find('@'), std::string::npos);
  auto back = parse_sturdy_ref(text);
  ASSERT_TRUE(back) << back.error();
  EXPECT_TRUE(back->hints.empty());
  EXPECT_EQ(*back, ref);
  // '@' followed by nothing has no meaning: one spelling per ref.
  std::string at = text;
  at.insert(text.find('/', 8), "@");
  EXPECT_NE(error_of(at).find("empty address hint"), std::string::npos);
}

TEST(SturdyRefUri, UnixHintsArePercentEncoded) {
  auto ref = ref_with({"unix:/run/vat,1@x%y é.sock", "h:1"});
  std::string text = format_sturdy_ref(ref);
  EXPECT_NE(text.find("@unix:%2Frun%2Fvat%2C1%40x%25y%20%C3%A9.sock,h:1/"), std::string::npos) << text;
  auto back = parse_sturdy_ref(text);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->hints[0], "unix:/run/vat,1@x%y é.sock");
  EXPECT_EQ(back->addresses()[0], captp::Address::unix_socket("/run/vat,1@x%y é.sock"));
}

TEST(SturdyRefUri, HintEncodingIsStrict) {
  std::string base = "vatic://" + some_vat().to_text() + "@";
  std::string tail = format_sturdy_ref(ref_with({}));
  tail = tail.substr(tail.rfind('/'));
  EXPECT_NE(error_of(base + "unix:%2frun" + tail).find("uppercase hex"), std::string::npos);  // lowercase hex
  EXPECT_NE(error_of(base + "unix:%2" + tail).find("uppercase hex"), std::string::npos);      // cut escape
  EXPECT_NE(error_of(base + "h%3A1" + tail).find("needs no encoding"), std::string::npos);    // ':' encoded
  // A raw '/' ends the authority, so an unencoded unix path cannot hide in a hint.
  EXPECT_NE(error_of(base + "unix:/run%2Fx" + tail).find("empty path"), std::string::npos);
  EXPECT_NE(error_of(base + "h:1,,h:2" + tail).find("empty address hint"), std::string::npos);
  EXPECT_NE(error_of(base + "tcp:h:1" + tail).find("canonical"), std::string::npos);
  EXPECT_NE(error_of(base + "h:99999" + tail).find("port"), std::string::npos);
  EXPECT_NE(error_of(base + "::1:4" + tail).find("brackets"), std::string::npos);
  EXPECT_NE(error_of(base + "h:1 " + tail).find("percent-encoded"), std::string::npos);
  EXPECT_TRUE(parse_sturdy_ref(base + "h:1" + tail));
}

TEST(SturdyRefUri, SchemeIsExactLowercase) {
  std::string text = format_sturdy_ref(ref_with({"h:1"}));
  EXPECT_TRUE(parse_sturdy_ref(text));
  EXPECT_NE(error_of("VATIC" + text.substr(5)).find("vatic://"), std::string::npos);
  EXPECT_NE(error_of("vatic:/" + text.substr(8)).find("vatic://"), std::string::npos);
  EXPECT_NE(error_of(" " + text).find("vatic://"), std::string::npos);
  EXPECT_NE(error_of("vatic://").find("'/'"), std::string::npos);
}

TEST(SturdyRefUri, VatIdMustParse) {
  std::string text = format_sturdy_ref(ref_with({"h:1"}));
  std::string upper = text;
  std::size_t letter = upper.find_first_of("abcdefghijklmnopqrstuvwxyz", 8);
  ASSERT_LT(letter, 8 + captp::kVatIdTextChars);
  upper[letter] = static_cast<char>(upper[letter] - 'a' + 'A');
  EXPECT_NE(error_of(upper).find("vat id"), std::string::npos);
  std::string typo = text;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  EXPECT_NE(error_of(typo).find("vat id"), std::string::npos);
}

TEST(SturdyRefUri, TokenMustBeForTheNamedVat) {
  auto other = captp::Identity::generate().id();
  SturdyRef ref{other, {"h:1"}, token_for(some_vat())};
  EXPECT_THROW(format_sturdy_ref(ref), VatError);
  // Splice the other vat's id in front of our token, as an attacker could.
  std::string text = format_sturdy_ref(ref_with({"h:1"}));
  text.replace(8, captp::kVatIdTextChars, other.to_text());
  EXPECT_NE(error_of(text).find("another vat"), std::string::npos);
}

TEST(SturdyRefUri, TokenTextIsCanonicalBase64Url) {
  std::string text = format_sturdy_ref(ref_with({"h:1"}));
  EXPECT_NE(error_of(text + "=").find("base64url"), std::string::npos);
  EXPECT_NE(error_of(text + "==").find("base64url"), std::string::npos);
  EXPECT_NE(error_of(text + "/").find("base64url"), std::string::npos);
  EXPECT_NE(error_of(text + "?x=1").find("base64url"), std::string::npos);
  EXPECT_NE(error_of(text + "#f").find("base64url"), std::string::npos);
  EXPECT_NE(error_of(text + " ").find("base64url"), std::string::npos);
  std::string plus = text;
  plus.back() = '+';
  EXPECT_NE(error_of(plus).find("base64url"), std::string::npos);
  // 82 bytes encode to 110 characters whose last one carries 4 unused bits.
  std::string unused_bits = text;
  ASSERT_EQ(unused_bits.size() - unused_bits.rfind('/') - 1, 110u);
  char& last = unused_bits.back();
  last = last == 'A' ? 'B' : static_cast<char>(last ^ 1);
  EXPECT_FALSE(parse_sturdy_ref(unused_bits));
  EXPECT_NE(error_of(text.substr(0, text.size() - 1)).find("token"), std::string::npos);
  EXPECT_NE(error_of(text.substr(0, text.rfind('/') + 1)).find("missing token"), std::string::npos);
}

TEST(SturdyRefUri, LimitsComeFirst) {
  std::vector<std::string> nine(9, "h:1");
  SturdyRef ref = ref_with({"h:1"});
  std::string text = format_sturdy_ref(ref);
  std::string many = text;
  many.insert(many.find("h:1") + 3, ",h:2,h:3,h:4,h:5,h:6,h:7,h:8,h:9");
  EXPECT_NE(error_of(many).find("more than 8"), std::string::npos);
  many = text;
  many.insert(many.find("h:1") + 3, ",h:2,h:3,h:4,h:5,h:6,h:7,h:8");
  EXPECT_TRUE(parse_sturdy_ref(many));
  std::string huge = text + std::string(kMaxSturdyRefChars, 'A');
  EXPECT_NE(error_of(huge).find("16384"), std::string::npos);
  EXPECT_NE(error_of(std::string(kMaxSturdyRefChars + 1, 'v')).find("16384"), std::string::npos);
  SturdyRef nine_ref{some_vat(), nine, ref.token};
  EXPECT_THROW(format_sturdy_ref(nine_ref), VatError);
}

TEST(SturdyRefUri, FormatRefusesNonCanonicalHints) {
  EXPECT_THROW(format_sturdy_ref(ref_with({"tcp:h:1"})), VatError);
  EXPECT_THROW(format_sturdy_ref(ref_with({"no port"})), VatError);
}

TEST(SturdyRefUri, LargestTokenFitsInAUri) {
  auto t = token_for(some_vat());
  std::string path(1000, 'p');
  for (int i = 0; i < 8; ++i) t = caps::attenuate(t, caps::caveat_path(path).value()).value();
  SturdyRef ref{some_vat(), std::vector<std::string>(8, "a-long-host-name.example.org:65535"), t};
  std::string text = format_sturdy_ref(ref);
  EXPECT_LE(text.size(), kMaxSturdyRefChars);
  auto back = parse_sturdy_ref(text);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, ref);
}

RC_GTEST_PROP(SturdyRefUriProperty, FormatThenParseIsIdentity, ()) {
  auto n_hints = *rc::gen::inRange<std::size_t>(0, kMaxHints + 1);
  std::vector<std::string> hints;
  for (std::size_t i = 0; i < n_hints; ++i) {
    auto port = *rc::gen::arbitrary<std::uint16_t>();
    if (*rc::gen::arbitrary<bool>()) {
      auto path =
          *rc::gen::container<std::string>(*rc::gen::inRange<std::size_t>(1, 40), rc::gen::inRange<char>(1, 127));
      hints.push_back("unix:/" + path);
    } else {
      hints.push_back("host" + std::to_string(i) + ".example:" + std::to_string(port));
    }
  }
  SturdyRef ref{some_vat(), hints, token_for(some_vat(), *rc::gen::inRange<std::size_t>(0, 5))};
  std::string text = format_sturdy_ref(ref);
  auto back = parse_sturdy_ref(text);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == ref);
  RC_ASSERT(format_sturdy_ref(*back) == text);
}

}  // namespace
}  // namespace vatic::sturdyrefs
