#include "vat/codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

using test::Point;
using test::Shape;

using test::thrown;

template <class T>
T round_trip(const T& x) {
  return from_value<T>(to_value(x));
}

TEST(Codec, IntegersEncodeAsInt64) {
  EXPECT_EQ(to_value(std::int8_t{-3}), Value(-3));
  EXPECT_EQ(to_value(std::uint32_t{4'000'000'000u}), Value(std::int64_t{4'000'000'000}));
  EXPECT_EQ(from_value<int>(Value(-7)), -7);
  EXPECT_EQ(from_value<std::uint64_t>(Value(INT64_MAX)), std::uint64_t{INT64_MAX});
}

TEST(Codec, IntegersAreRangeCheckedOnDecode) {
  EXPECT_EQ(from_value<std::int8_t>(Value(127)), 127);
  EXPECT_EQ(from_value<std::int8_t>(Value(-128)), -128);
  Error e = thrown([] { (void)from_value<std::int8_t>(Value(128)); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "integer 128 out of range");
  EXPECT_EQ(thrown([] { (void)from_value<std::int8_t>(Value(-129)); }).reason, "integer -129 out of range");
  EXPECT_EQ(thrown([] { (void)from_value<std::uint8_t>(Value(256)); }).reason, "integer 256 out of range");
  EXPECT_EQ(thrown([] { (void)from_value<std::uint32_t>(Value(-1)); }).reason, "integer -1 out of range");
  EXPECT_EQ(thrown([] { (void)from_value<std::uint64_t>(Value(-1)); }).reason, "integer -1 out of range");
  EXPECT_EQ(thrown([] { (void)from_value<std::int32_t>(Value(std::int64_t{1} << 31)); }).kind, ErrorKind::failed);
}

TEST(Codec, IntegersRefuseOtherTypes) {
  EXPECT_EQ(thrown([] { (void)from_value<int>(Value(1.5)); }).reason, "expected int64, got float64");
  EXPECT_EQ(thrown([] { (void)from_value<int>(Value("1")); }).reason, "expected int64, got text");
}

TEST(Codec, UnsignedAboveInt64MaxCannotBeEncoded) {
  Error e = thrown([] { (void)to_value(std::numeric_limits<std::uint64_t>::max()); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
}

TEST(Codec, DoubleRoundTripsAndAcceptsIntegers) {
  EXPECT_EQ(to_value(2.25), Value(2.25));
  EXPECT_DOUBLE_EQ(from_value<double>(Value(2.25)), 2.25);
  EXPECT_DOUBLE_EQ(from_value<double>(Value(4)), 4.0);
  EXPECT_FLOAT_EQ(from_value<float>(Value(1.5)), 1.5f);
  EXPECT_EQ(to_value(1.5f).type(), Value::Type::real);
  EXPECT_EQ(thrown([] { (void)from_value<double>(Value(true)); }).reason, "expected float64, got bool");
}

TEST(Codec, BoolIsStrict) {
  EXPECT_EQ(to_value(true), Value(true));
  EXPECT_FALSE(from_value<bool>(Value(false)));
  EXPECT_EQ(thrown([] { (void)from_value<bool>(Value(1)); }).reason, "expected bool, got int64");
}

TEST(Codec, StringsAreText) {
  EXPECT_EQ(to_value(std::string("abc")), Value("abc"));
  EXPECT_EQ(from_value<std::string>(Value("abc")), "abc");
  EXPECT_EQ(thrown([] { (void)from_value<std::string>(Value(Bytes{97})); }).reason, "expected text, got bytes");
}

TEST(Codec, ByteVectorsAreBytesNotLists) {
  Bytes b{0, 1, 254, 255};
  EXPECT_EQ(to_value(b).type(), Value::Type::bytes);
  EXPECT_EQ(from_value<Bytes>(to_value(b)), b);
  EXPECT_EQ(thrown([] { (void)from_value<Bytes>(Value(List{1})); }).reason, "expected bytes, got list");
}

TEST(Codec, VectorsAreLists) {
  std::vector<std::int64_t> xs{3, 1, 2};
  EXPECT_EQ(to_value(xs), Value(List{3, 1, 2}));
  EXPECT_EQ(round_trip(xs), xs);
  std::vector<std::vector<std::string>> nested{{"a"}, {}, {"b", "c"}};
  EXPECT_EQ(round_trip(nested), nested);
  EXPECT_EQ(thrown([] { (void)from_value<std::vector<int>>(Value(List{1, "x"})); }).reason, "expected int64, got text");
}

TEST(Codec, VectorElementsAreRangeChecked) {
  EXPECT_EQ(thrown([] {
              (void)from_value<std::vector<std::int8_t>>(Value(List{1, 1000}));
            }).reason,
            "integer 1000 out of range");
}

TEST(Codec, OptionalIsNullOrTheValue) {
  EXPECT_EQ(to_value(std::optional<int>{}), Value());
  EXPECT_EQ(to_value(std::optional<int>{5}), Value(5));
  EXPECT_EQ(from_value<std::optional<int>>(Value()), std::nullopt);
  EXPECT_EQ(from_value<std::optional<int>>(Value(5)), 5);
  EXPECT_EQ(thrown([] { (void)from_value<std::optional<int>>(Value("5")); }).kind, ErrorKind::failed);
}

TEST(Codec, StringMapsAreRecordsWithoutLabel) {
  std::map<std::string, std::int64_t> m{{"a", 1}, {"b", 2}};
  Value v = to_value(m);
  ASSERT_EQ(v.type(), Value::Type::record);
  EXPECT_EQ(v.as_record().label, "");
  EXPECT_EQ(v.as_record().find("b")->as_int(), 2);
  EXPECT_EQ(round_trip(m), m);
}

TEST(Codec, StringMapsRefuseDuplicateKeys) {
  Value v(Record{"", {{"k", 1}, {"k", 2}}});
  Error e = thrown([&] { (void)from_value<std::map<std::string, int>>(v); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "duplicate key \"k\" in map");
}

TEST(Codec, StructsAreRecordsLabelledWithTheirName) {
  Value v = to_value(Point{3, -4});
  ASSERT_EQ(v.type(), Value::Type::record);
  EXPECT_EQ(v, Value(Record{"Point", {{"x", 3}, {"y", -4}}}));
  EXPECT_EQ(from_value<Point>(v), (Point{3, -4}));
}

TEST(Codec, NestedStructsRoundTrip) {
  Shape s{"tri", {{0, 0}, {1, 0}, {0, 1}}, 2.5, {{"layer", 3}}, {9, 8}, true};
  EXPECT_EQ(round_trip(s), s);
  Shape empty;
  EXPECT_EQ(round_trip(empty), empty);
  EXPECT_TRUE(to_value(empty).as_record().find("scale")->is_null());
}

TEST(Codec, StructFieldOrderDoesNotMatterAndExtraFieldsAreIgnored) {
  Value v(Record{"Point", {{"z", 9}, {"y", 2}, {"x", 1}}});
  EXPECT_EQ(from_value<Point>(v), (Point{1, 2}));
}

TEST(Codec, StructMissingAFieldIsAnError) {
  Error e = thrown([] { (void)from_value<Point>(Value(Record{"Point", {{"x", 1}}})); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "record Point lacks field y");
}

TEST(Codec, StructWithTheWrongLabelIsAnError) {
  Error e = thrown([] { (void)from_value<Point>(Value(Record{"Vector", {{"x", 1}, {"y", 2}}})); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "expected record Point, got \"Vector\"");
}

TEST(Codec, StructFieldsAreRangeChecked) {
  Value v(Record{"Point", {{"x", std::int64_t{1} << 40}, {"y", 0}}});
  EXPECT_EQ(thrown([&] { (void)from_value<Point>(v); }).kind, ErrorKind::failed);
}

TEST(Codec, UnitIsNullAndValueIsItself) {
  EXPECT_EQ(to_value(Unit{}), Value());
  EXPECT_EQ(from_value<Unit>(Value(3)), Unit{});
  Value v(List{1, "a"});
  EXPECT_EQ(to_value(v), v);
  EXPECT_EQ(from_value<Value>(v), v);
}

TEST(Codec, ErrorsAreErrorValues) {
  Error e{ErrorKind::overloaded, "later"};
  EXPECT_EQ(to_value(e).type(), Value::Type::error);
  EXPECT_EQ(round_trip(e), e);
}

TEST(Codec, RefsAreCapabilitiesAndEmptyRefsAreNull) {
  Vat vat;
  auto c = vat.make<test::Counter>();
  Value v = to_value(c);
  ASSERT_EQ(v.type(), Value::Type::reference);
  EXPECT_FALSE(v.as_capability().promise);
  EXPECT_EQ(from_value<Ref<test::Counter>>(v), c);
  EXPECT_EQ(to_value(Ref<test::Counter>()), Value());
  EXPECT_FALSE(from_value<Ref<test::Counter>>(Value()));
}

TEST(Codec, RefDecodeChecksTheTypeOfANearObject) {
  Vat vat;
  auto n = vat.make<test::Node>(0);
  Error e = thrown([&] { (void)from_value<Ref<test::Counter>>(to_value(n)); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "reference does not point to an object of the expected type");
  EXPECT_EQ(thrown([] { (void)from_value<Ref<test::Counter>>(Value(1)); }).reason, "expected reference, got int64");
}

TEST(Codec, PromisesAreCapabilitiesMarkedAsPromises) {
  Vat vat;
  auto f = vat.submit([] {
    auto [p, r] = make_promise<int>();
    Value v = to_value(p);
    bool is_promise = v.as_capability().promise;
    Promise<int> back = from_value<Promise<int>>(v);
    r.resolve(5);
    return std::make_pair(is_promise, back.state() == p.state() && back.ready() && back.value() == 5);
  });
  vat.run_until_idle();
  auto [is_promise, same] = f.get();
  EXPECT_TRUE(is_promise);
  EXPECT_TRUE(same);
}

// spec/model.md, Messages and values: a plain value where a promise is
// expected stands for a promise already fulfilled with it; one of the wrong
// type is a broken promise, not a failed decode of the whole message.
TEST(Codec, PromiseDecodeOfAPlainValueIsAFulfilledPromise) {
  Vat vat;
  auto f = vat.submit([] {
    Promise<int> five = from_value<Promise<int>>(Value(5));
    Promise<int> wrong = from_value<Promise<int>>(Value("five"));
    return std::make_tuple(five.ready() && five.value() == 5, wrong.is_broken(),
                           wrong.is_broken() ? wrong.error().reason : std::string());
  });
  vat.run_until_idle();
  auto [fulfilled, broken, reason] = f.get();
  EXPECT_TRUE(fulfilled);
  EXPECT_TRUE(broken);
  EXPECT_EQ(reason, "expected int64, got text");
}

TEST(Codec, PromiseDecodeOfAnEmptyReferenceIsAnError) {
  Error e = thrown([] { (void)from_value<Promise<int>>(Value(Capability{})); });
  EXPECT_EQ(e.kind, ErrorKind::failed);
}

RC_GTEST_PROP(Codec, Int64VectorsRoundTrip, (std::vector<std::int64_t> xs)) { RC_ASSERT(round_trip(xs) == xs); }

RC_GTEST_PROP(Codec, StringMapsRoundTrip, (std::map<std::string, std::string> m)) { RC_ASSERT(round_trip(m) == m); }

RC_GTEST_PROP(Codec, OptionalsRoundTrip, (bool has, std::int32_t x)) {
  std::optional<std::int32_t> o;
  if (has) o = x;
  RC_ASSERT(round_trip(o) == o);
}

RC_GTEST_PROP(Codec, StructsRoundTrip,
              (std::string name, std::vector<std::pair<std::int32_t, std::int32_t>> pts, bool has_scale, double scale,
               std::vector<std::uint8_t> blob)) {
  Shape s;
  s.name = name;
  for (auto [x, y] : pts) s.points.push_back({x, y});
  if (has_scale && scale == scale) s.scale = scale;  // NaN never compares equal
  s.blob = blob;
  s.tags["n"] = static_cast<std::int64_t>(pts.size());
  RC_ASSERT(round_trip(s) == s);
}

RC_GTEST_PROP(Codec, NarrowIntegersDecodeExactlyWhenInRange, (std::int64_t x)) {
  bool fits = x >= INT16_MIN && x <= INT16_MAX;
  try {
    auto y = from_value<std::int16_t>(Value(x));
    RC_ASSERT(fits);
    RC_ASSERT(y == x);
  } catch (const VatError& e) {
    RC_ASSERT(!fits);
    RC_ASSERT(e.error().kind == ErrorKind::failed);
  }
}

}  // namespace
}  // namespace vatic
