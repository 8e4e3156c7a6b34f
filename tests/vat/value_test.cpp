#include "vat/value.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

using test::thrown;

TEST(Value, DefaultIsNull) {
  Value v;
  EXPECT_TRUE(v.is_null());
  EXPECT_EQ(v.type(), Value::Type::null);
  EXPECT_EQ(Value(nullptr), v);
}

TEST(Value, EachConstructorMakesItsType) {
  EXPECT_EQ(Value(true).type(), Value::Type::boolean);
  EXPECT_EQ(Value(7).type(), Value::Type::integer);
  EXPECT_EQ(Value(std::uint16_t{7}).type(), Value::Type::integer);
  EXPECT_EQ(Value(2.5).type(), Value::Type::real);
  EXPECT_EQ(Value("hi").type(), Value::Type::text);
  EXPECT_EQ(Value(std::string("hi")).type(), Value::Type::text);
  EXPECT_EQ(Value(std::string_view("hi")).type(), Value::Type::text);
  EXPECT_EQ(Value(Bytes{1, 2}).type(), Value::Type::bytes);
  EXPECT_EQ(Value(List{1, 2}).type(), Value::Type::list);
  EXPECT_EQ(Value(Record{"R", {}}).type(), Value::Type::record);
  EXPECT_EQ(Value(Error{ErrorKind::failed, "x"}).type(), Value::Type::error);
  EXPECT_EQ(Value(Capability{}).type(), Value::Type::reference);
}

TEST(Value, AccessorsReturnWhatWasStored) {
  EXPECT_TRUE(Value(true).as_bool());
  EXPECT_EQ(Value(-5).as_int(), -5);
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::min()).as_int(), std::numeric_limits<std::int64_t>::min());
  EXPECT_DOUBLE_EQ(Value(2.5).as_double(), 2.5);
  EXPECT_EQ(Value("text").as_text(), "text");
  EXPECT_EQ(Value(Bytes{0, 255}).as_bytes(), (Bytes{0, 255}));
  EXPECT_EQ(Value(List{1, "a"}).as_list().size(), 2u);
  EXPECT_EQ(Value(Record{"R", {{"a", 1}}}).as_record().label, "R");
  EXPECT_EQ(Value(Error{ErrorKind::overloaded, "busy"}).as_error(), (Error{ErrorKind::overloaded, "busy"}));
}

TEST(Value, AsDoubleAcceptsIntegers) { EXPECT_DOUBLE_EQ(Value(3).as_double(), 3.0); }

TEST(Value, AsIntDoesNotAcceptReals) {
  Error e = thrown([] { (void)Value(3.0).as_int(); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "expected int64, got float64");
}

TEST(Value, TypeMismatchNamesExpectedAndActualType) {
  EXPECT_EQ(thrown([] { (void)Value(1).as_bool(); }).reason, "expected bool, got int64");
  EXPECT_EQ(thrown([] { (void)Value(true).as_int(); }).reason, "expected int64, got bool");
  EXPECT_EQ(thrown([] { (void)Value("x").as_double(); }).reason, "expected float64, got text");
  EXPECT_EQ(thrown([] { (void)Value(1).as_text(); }).reason, "expected text, got int64");
  EXPECT_EQ(thrown([] { (void)Value("x").as_bytes(); }).reason, "expected bytes, got text");
  EXPECT_EQ(thrown([] { (void)Value().as_list(); }).reason, "expected list, got null");
  EXPECT_EQ(thrown([] { (void)Value(List{}).as_record(); }).reason, "expected record, got list");
  EXPECT_EQ(thrown([] { (void)Value(Record{}).as_capability(); }).reason, "expected reference, got record");
  EXPECT_EQ(thrown([] { (void)Value(Bytes{}).as_error(); }).reason, "expected error, got bytes");
  EXPECT_EQ(thrown([] { (void)Value(1).as_bool(); }).kind, ErrorKind::failed);
}

TEST(Value, MutableAccessorsEditInPlace) {
  Value v(List{1});
  v.as_list().push_back(2);
  EXPECT_EQ(v, Value(List{1, 2}));
  Value r(Record{"R", {}});
  r.as_record().fields.emplace_back("a", 1);
  EXPECT_EQ(r.as_record().find("a")->as_int(), 1);
  Value c(Capability{});
  c.as_capability().promise = true;
  EXPECT_TRUE(c.as_capability().promise);
}

TEST(Value, UnsignedIntegersAboveInt64MaxAreRefused) {
  EXPECT_EQ(Value(std::uint64_t{INT64_MAX}).as_int(), INT64_MAX);
  Error e = thrown([] { Value v(std::uint64_t{INT64_MAX} + 1); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "integer does not fit in int64");
}

TEST(Value, EqualityIsByTypeAndContent) {
  EXPECT_EQ(Value(1), Value(std::int8_t{1}));
  EXPECT_NE(Value(1), Value(1.0));
  EXPECT_NE(Value(1), Value(true));
  EXPECT_NE(Value("1"), Value(1));
  EXPECT_EQ(Value(List{1, "a", List{}}), Value(List{1, "a", List{}}));
  EXPECT_NE(Value(List{1, 2}), Value(List{2, 1}));
  EXPECT_EQ(Value(Record{"P", {{"x", 1}}}), Value(Record{"P", {{"x", 1}}}));
  EXPECT_NE(Value(Record{"P", {{"x", 1}}}), Value(Record{"Q", {{"x", 1}}}));
  EXPECT_NE(Value(Record{"P", {{"x", 1}}}), Value(Record{"P", {{"y", 1}}}));
}

TEST(Record, FindReturnsTheFieldOrNull) {
  Record r{"R", {{"a", 1}, {"b", "two"}}};
  ASSERT_NE(r.find("b"), nullptr);
  EXPECT_EQ(r.find("b")->as_text(), "two");
  EXPECT_EQ(r.find("c"), nullptr);
}

TEST(Value, ToStringRendersEachType) {
  EXPECT_EQ(Value().to_string(), "null");
  EXPECT_EQ(Value(true).to_string(), "true");
  EXPECT_EQ(Value(false).to_string(), "false");
  EXPECT_EQ(Value(-12).to_string(), "-12");
  EXPECT_EQ(Value(2.5).to_string(), "2.5");
  EXPECT_EQ(Value("hi").to_string(), "\"hi\"");
  EXPECT_EQ(Value(Bytes{1, 2, 3}).to_string(), "<3 bytes>");
  EXPECT_EQ(Value(List{1, "a", List{}}).to_string(), "[1, \"a\", []]");
  EXPECT_EQ(Value(Record{"Point", {{"x", 1}, {"y", 2}}}).to_string(), "Point{x: 1, y: 2}");
  EXPECT_EQ(Value(Capability{}).to_string(), "<ref>");
  EXPECT_EQ(Value(Capability{nullptr, nullptr, true}).to_string(), "<promise>");
  EXPECT_EQ(Value(Error{ErrorKind::disconnected, "gone"}).to_string(), "<error disconnected: gone>");
}

TEST(Value, ToStringIsCappedWithAnEllipsis) {
  List big;
  for (int i = 0; i < 1000; ++i) big.push_back(i);
  std::string s = Value(big).to_string(50);
  EXPECT_EQ(s.size(), 53u);
  EXPECT_EQ(s.substr(0, 4), "[0, ");
  EXPECT_EQ(s.substr(50), "...");
  EXPECT_EQ(Value(std::string(500, 'a')).to_string(10), "\"aaaaaaaaa...");
}

TEST(Value, TypeNamesAreStable) {
  EXPECT_EQ(to_string(Value::Type::null), "null");
  EXPECT_EQ(to_string(Value::Type::integer), "int64");
  EXPECT_EQ(to_string(Value::Type::real), "float64");
  EXPECT_EQ(to_string(Value::Type::reference), "reference");
}

TEST(Capability, EmptyCapabilitiesShareTheNullIdentity) {
  Capability a, b;
  EXPECT_EQ(a.identity(), nullptr);
  EXPECT_EQ(a, b);
  b.promise = true;
  EXPECT_FALSE(a == b);
}

TEST(Capability, IdentityIsTheObjectsAndSurvivesCopies) {
  Vat vat;
  auto c = vat.make<test::Counter>();
  auto d = vat.make<test::Counter>();
  Value vc = to_value(c);
  Value vc2 = to_value(c);
  Value vd = to_value(d);
  EXPECT_EQ(vc, vc2);
  EXPECT_NE(vc, vd);
  EXPECT_NE(vc.as_capability().identity(), nullptr);
  EXPECT_FALSE(vc.as_capability().promise);
}

RC_GTEST_PROP(Value, IntegersRoundTripExactly, (std::int64_t i)) {
  RC_ASSERT(Value(i).as_int() == i);
  RC_ASSERT(Value(i) == Value(i));
}

RC_GTEST_PROP(Value, TextRoundTripsAndRendersQuoted, (std::string s)) {
  Value v(s);
  RC_ASSERT(v.as_text() == s);
  RC_ASSERT(v.to_string(100000).size() >= s.size() + 2);
}

}  // namespace
}  // namespace vatic
