#include "caps/caveat.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "vat/error.h"

namespace vatic::caps {
namespace {

VatKey vat_key(std::uint8_t fill) {
  VatKey k;
  k.fill(fill);
  return k;
}

Bytes bytes(std::initializer_list<int> b) {
  Bytes out;
  for (int x : b) out.push_back(static_cast<std::uint8_t>(x));
  return out;
}

Bytes with_type(std::uint8_t type, std::string_view payload) {
  Bytes b{type};
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

TEST(Caveat, EncodingsAreExactlyTheSpecBytes) {
  EXPECT_EQ(caveat_expires(0x0102030405060708), bytes({1, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(caveat_not_before(-1), bytes({2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  Bytes holder = caveat_holder(vat_key(9));
  ASSERT_EQ(holder.size(), 33u);
  EXPECT_EQ(holder[0], 3);
  EXPECT_EQ(caveat_methods({"list", "get", "list"}).value(), bytes({4, 2, 3, 'g', 'e', 't', 4, 'l', 'i', 's', 't'}));
  EXPECT_EQ(caveat_path("a/b").value(), bytes({0x10, 'a', '/', 'b'}));
  EXPECT_EQ(caveat_ops(kReadOnlyFsOps), bytes({0x11, 3}));
  EXPECT_EQ(caveat_max_bytes(256), bytes({0x12, 0, 0, 0, 0, 0, 0, 1, 0}));
}

TEST(Caveat, EachKindParsesBackToItsValue) {
  EXPECT_EQ(parse_caveat(caveat_expires(-5)).value(), Caveat{Expires{-5}});
  EXPECT_EQ(parse_caveat(caveat_not_before(7)).value(), Caveat{NotBefore{7}});
  EXPECT_EQ(parse_caveat(caveat_holder(vat_key(4))).value(), Caveat{Holder{vat_key(4)}});
  EXPECT_EQ(parse_caveat(caveat_methods({"b", "a"}).value()).value(), (Caveat{Methods{{"a", "b"}}}));
  EXPECT_EQ(parse_caveat(caveat_path("x/y z/é").value()).value(), Caveat{Path{"x/y z/é"}});
  EXPECT_EQ(parse_caveat(caveat_ops(5)).value(), Caveat{Ops{5}});
  EXPECT_EQ(parse_caveat(caveat_max_bytes(std::numeric_limits<std::uint64_t>::max())).value(),
            Caveat{MaxBytes{std::numeric_limits<std::uint64_t>::max()}});
  EXPECT_EQ(parse_caveat(caveat_methods({}).value()).value(), Caveat{Methods{}});
}

TEST(Caveat, UnknownTypesFailClosed) {
  for (int type : {0x00, 0x05, 0x0f, 0x13, 0x1f, 0x80, 0xff}) {
    auto r = parse_caveat(bytes({type, 0, 0, 0, 0, 0, 0, 0, 0}));
    ASSERT_FALSE(r) << type;
    EXPECT_NE(r.error().find("unknown caveat type"), std::string::npos);
  }
}

TEST(Caveat, WrongSizesAndExtraBytesAreInvalid) {
  EXPECT_FALSE(parse_caveat(Bytes{}));
  EXPECT_FALSE(parse_caveat(bytes({1, 0, 0, 0, 0, 0, 0, 0})));
  EXPECT_FALSE(parse_caveat(bytes({1, 0, 0, 0, 0, 0, 0, 0, 0, 0})));
  EXPECT_FALSE(parse_caveat(bytes({2})));
  EXPECT_FALSE(parse_caveat(Bytes(32, 3)));
  EXPECT_FALSE(parse_caveat(bytes({0x11})));
  EXPECT_FALSE(parse_caveat(bytes({0x11, 1, 0})));
  EXPECT_FALSE(parse_caveat(bytes({0x12, 1})));
  EXPECT_FALSE(parse_caveat(Bytes(kMaxCaveatBytes + 1, 'a')));
}

TEST(Caveat, OpsRejectUnknownBits) {
  EXPECT_FALSE(parse_caveat(bytes({0x11, 0x20})));
  EXPECT_FALSE(parse_caveat(bytes({0x11, 0xff})));
  EXPECT_TRUE(parse_caveat(bytes({0x11, 0})));
  EXPECT_THROW(caveat_ops(0x40), VatError);
}

TEST(Caveat, MethodsMustBeCanonical) {
  EXPECT_FALSE(parse_caveat(bytes({4})));                     // no count
  EXPECT_FALSE(parse_caveat(bytes({4, 2, 1, 'b', 1, 'a'})));  // not ascending
  EXPECT_FALSE(parse_caveat(bytes({4, 2, 1, 'a', 1, 'a'})));  // duplicate
  EXPECT_FALSE(parse_caveat(bytes({4, 1, 1, 'a', 'x'})));     // trailing byte
  EXPECT_FALSE(parse_caveat(bytes({4, 2, 1, 'a'})));          // missing name
  EXPECT_FALSE(parse_caveat(bytes({4, 1, 3, 'a'})));          // short name
  EXPECT_FALSE(parse_caveat(bytes({4, 1, 0})));               // empty name
  EXPECT_FALSE(parse_caveat(bytes({4, 1, 2, '1', 'a'})));     // starts with a digit
  EXPECT_FALSE(parse_caveat(bytes({4, 1, 2, 'a', '-'})));     // not an identifier
  EXPECT_TRUE(parse_caveat(bytes({4, 2, 1, 'B', 1, 'a'})));   // byte order: 'B' < 'a'
  EXPECT_FALSE(caveat_methods({"ok", "not ok"}));
  EXPECT_FALSE(caveat_methods({std::string(kMaxMethodName + 1, 'm')}));
  EXPECT_TRUE(caveat_methods({std::string(kMaxMethodName, 'm')}));
}

TEST(Caveat, PathsMustBeCleanRelativePaths) {
  for (std::string bad :
       std::vector<std::string>{"", "/abs", "a/", "a//b", "./a", "a/..", "..", ".", std::string("a\0b", 3), "a\nb",
                                "bad\x7f", "\xc0\xaf", "\xed\xa0\x80", "\xff", "\xe2\x82"}) {
    EXPECT_FALSE(caveat_path(bad)) << bad;
    EXPECT_FALSE(parse_caveat(with_type(0x10, bad))) << bad;
  }
  for (std::string good : std::vector<std::string>{"a", "a/b/c", "...", ".hidden", "x..y", "日本/語", "with space"}) {
    EXPECT_TRUE(caveat_path(good)) << good;
  }
  EXPECT_TRUE(caveat_path(std::string(1023, 'p')));
  EXPECT_FALSE(caveat_path(std::string(1024, 'p')));
}

TEST(Caveats, CombineAsTheIntersection) {
  auto c = parse_caveats({caveat_expires(100), caveat_expires(50), caveat_not_before(10), caveat_not_before(20),
                          caveat_methods({"a", "b", "c"}).value(), caveat_methods({"b", "c", "d"}).value(),
                          caveat_path("x").value(), caveat_path("y/z").value(), caveat_ops(kAllFsOps),
                          caveat_ops(kReadOnlyFsOps), caveat_max_bytes(9), caveat_max_bytes(99),
                          caveat_holder(vat_key(1)), caveat_holder(vat_key(1))});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->expires, 50);
  EXPECT_EQ(c->not_before, 20);
  EXPECT_EQ(c->methods, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(c->paths, (std::vector<std::string>{"x", "y/z"}));
  EXPECT_EQ(c->joined_path(), "x/y/z");
  EXPECT_EQ(c->ops, kReadOnlyFsOps);
  EXPECT_EQ(c->max_bytes, 9u);
  EXPECT_EQ(c->holders.size(), 1u);
  EXPECT_TRUE(c->has_fs_caveats());
}

TEST(Caveats, NoCaveatsMeansNoRestriction) {
  auto c = parse_caveats({}).value();
  EXPECT_EQ(check_time(c, 0), std::nullopt);
  EXPECT_EQ(check_holder(c, std::nullopt), std::nullopt);
  EXPECT_TRUE(method_allowed(c, "anything"));
  EXPECT_FALSE(c.has_fs_caveats());
  EXPECT_EQ(describe(c), "no caveats");
  EXPECT_EQ(describe_json(c), "{}");
}

TEST(Caveats, OneInvalidCaveatFailsTheChainAndIsNamed) {
  auto r = parse_caveats({caveat_expires(1), bytes({0x42})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rfind("caveat 2:", 0), 0u) << r.error();
}

TEST(Caveats, TimeWindowIsHalfOpen) {
  auto c = parse_caveats({caveat_not_before(10), caveat_expires(20)}).value();
  EXPECT_EQ(check_time(c, 9), "refused: token not yet valid");
  EXPECT_EQ(check_time(c, 10), std::nullopt);
  EXPECT_EQ(check_time(c, 19), std::nullopt);
  EXPECT_EQ(check_time(c, 20), "refused: token expired");
}

TEST(Caveats, ClockSkewWidensTheWindowOnEachSideAndNoMore) {
  auto c = parse_caveats({caveat_not_before(100), caveat_expires(200)}).value();
  // Accepted while now + skew >= not_before ...
  EXPECT_EQ(check_time(c, 39, 60), "refused: token not yet valid");
  EXPECT_EQ(check_time(c, 40, 60), std::nullopt);
  // ... and while now < expires + skew.
  EXPECT_EQ(check_time(c, 259, 60), std::nullopt);
  EXPECT_EQ(check_time(c, 260, 60), "refused: token expired");
  // A negative skew narrows nothing: it counts as 0.
  EXPECT_EQ(check_time(c, 99, -5), "refused: token not yet valid");
  EXPECT_EQ(check_time(c, 200, -5), "refused: token expired");
}

TEST(Caveats, ClockSkewNeverWrapsAFarExpiryIntoThePast) {
  auto c = parse_caveats({caveat_expires(INT64_MAX - 1)}).value();
  EXPECT_EQ(check_time(c, 1'800'000'000, 60), std::nullopt);
  auto nb = parse_caveats({caveat_not_before(INT64_MAX)}).value();
  EXPECT_EQ(check_time(nb, INT64_MAX - 10, 60), std::nullopt);  // now + skew saturates at INT64_MAX
}

TEST(Caveats, HolderMustMatchEveryHolderCaveat) {
  auto one = parse_caveats({caveat_holder(vat_key(1))}).value();
  EXPECT_EQ(check_holder(one, vat_key(1)), std::nullopt);
  EXPECT_EQ(check_holder(one, vat_key(2)), "refused: token is bound to another holder");
  EXPECT_EQ(check_holder(one, std::nullopt), "refused: token is bound to another holder");
  auto two = parse_caveats({caveat_holder(vat_key(1)), caveat_holder(vat_key(2))}).value();
  EXPECT_NE(check_holder(two, vat_key(1)), std::nullopt);
  EXPECT_NE(check_holder(two, vat_key(2)), std::nullopt);
}

TEST(Caveats, MethodsIntersectionCanBeEmpty) {
  auto c = parse_caveats({caveat_methods({"a"}).value(), caveat_methods({"b"}).value()}).value();
  ASSERT_TRUE(c.methods);
  EXPECT_TRUE(c.methods->empty());
  EXPECT_FALSE(method_allowed(c, "a"));
  EXPECT_FALSE(method_allowed(c, "b"));
}

TEST(Caveats, DescribeForHumansAndJson) {
  auto c =
      parse_caveats({caveat_expires(1700000000), caveat_methods({"read", "list"}).value(), caveat_path("docs").value(),
                     caveat_path("a\"b").value(), caveat_ops(kReadOnlyFsOps), caveat_holder(vat_key(0xab))})
          .value();
  auto text = describe(c, [](const VatKey&) { return std::string("VAT"); });
  EXPECT_EQ(text,
            "expires 1700000000 (2023-11-14T22:13:20Z)\nholder VAT\nmethods list,read\npath docs/a\"b\nops read,list");
  std::string holder_hex;
  for (int i = 0; i < 32; ++i) holder_hex += "ab";
  EXPECT_EQ(describe_json(c),
            "{\"expires\":1700000000,\"holders\":[\"" + holder_hex +
                "\"],\"methods\":[\"list\",\"read\"],\"path\":\"docs/a\\\"b\",\"ops\":\"read,list\"}");
}

RC_GTEST_PROP(CaveatProperty, EncodeParseRoundTrips, (std::int64_t t, std::uint64_t limit, std::uint8_t ops)) {
  FsOps masked = ops & kAllFsOps;
  for (const Caveat& c : std::vector<Caveat>{Expires{t}, NotBefore{t}, MaxBytes{limit}, Ops{masked}}) {
    auto back = parse_caveat(encode_caveat(c));
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == c);
  }
}

// A random byte string either is rejected or is the one encoding of its value.
RC_GTEST_PROP(CaveatProperty, ParsedBytesAreCanonical, (std::vector<std::uint8_t> payload)) {
  // Mostly known types, so that the payload rules are what gets exercised.
  auto type = *rc::gen::elementOf(std::vector<std::uint8_t>{1, 2, 3, 4, 0x10, 0x11, 0x12, 0x13});
  Bytes b{type};
  b.insert(b.end(), payload.begin(), payload.end());
  auto parsed = parse_caveat(b);
  if (parsed) RC_ASSERT(encode_caveat(*parsed) == b);
}

}  // namespace
}  // namespace vatic::caps
