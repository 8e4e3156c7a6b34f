#include "persist/stored_value.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <limits>

#include "persist_objects.h"

namespace vatic::persist {
namespace {

Value sample() {
  return Value(Record{"entry",
                      {{"n", Value(std::int64_t{-42})},
                       {"x", Value(2.5)},
                       {"s", Value("h\xc3\xa9llo")},
                       {"b", Value(Bytes{0, 1, 255})},
                       {"l", Value(List{Value(), Value(true), Value(false)})},
                       {"e", Value(Error{ErrorKind::overloaded, "busy"})}}});
}

TEST(StoredValue, EveryPassableDataTypeRoundTrips) {
  Value v = sample();
  Result<Value> back = decode_stored(encode_stored(v));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, v);
}

TEST(StoredValue, ExtremeNumbersRoundTrip) {
  for (Value v : {Value(std::numeric_limits<std::int64_t>::min()), Value(std::numeric_limits<std::int64_t>::max()),
                  Value(-0.0), Value(std::numeric_limits<double>::infinity())}) {
    Result<Value> back = decode_stored(encode_stored(v));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, v);
  }
}

TEST(StoredValue, AReferenceCannotBeStored) {
  Vat vat;
  Value ref = Codec<Ref<test::Teller>>::encode(vat.make<test::Teller>());
  EXPECT_THROW(encode_stored(Value(List{ref})), VatError);
}

TEST(StoredValue, DamagedBytesAreRefusedWithAReason) {
  Bytes good = encode_stored(sample());
  EXPECT_NE(decode_stored(Bytes{}).error().find("empty"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{2, 0}).error().find("unknown format"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{1, 77}).error().find("unknown tag"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{1, 0, 0}).error().find("trailing"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{1, 5, 2, 0xff, 0xfe}).error().find("UTF-8"), std::string::npos);
  EXPECT_NE(decode_stored(Bytes{1, 9, 7, 0}).error().find("kind"), std::string::npos);
  // A list that claims more elements than bytes left is refused before allocating.
  EXPECT_NE(decode_stored(Bytes{1, 7, 0xff, 0xff, 0xff, 0xff, 0x0f}).error().find("truncated"), std::string::npos);
  for (std::size_t n = 1; n < good.size(); ++n) EXPECT_FALSE(decode_stored(std::span(good).first(n))) << "cut at " << n;
}

TEST(StoredValue, NestingBeyondTheLimitIsRefused) {
  Bytes deep{1};
  for (int i = 0; i < 70; ++i) deep.insert(deep.end(), {7, 1});
  deep.push_back(0);
  EXPECT_NE(decode_stored(deep).error().find("deep"), std::string::npos);
}

RC_GTEST_PROP(StoredValue, DecodingArbitraryBytesNeverThrows, (std::vector<std::uint8_t> bytes)) {
  bytes.insert(bytes.begin(), 1);
  Result<Value> v = decode_stored(bytes);
  if (v) RC_ASSERT(encode_stored(*v) == bytes);  // one spelling per value
}

}  // namespace
}  // namespace vatic::persist
