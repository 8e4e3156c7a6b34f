// Values as JSON and back (tools/value_json.h): the convention `vatic call`
// documents, round trips, and the refusals for what JSON cannot say.
#include "tools/value_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace vatic::test {
namespace {

using cli::parse_value_json;
using cli::value_to_json;

TEST(ValueJson, EveryKindIsWrittenAsDocumented) {
  Value v(Record{"stat",
                 {{"n", 3},
                  {"ok", true},
                  {"ratio", 0.5},
                  {"whole", 2.0},
                  {"none", nullptr},
                  {"name", "caf\xc3\xa9"},
                  {"raw", Bytes{0x00, 0xab}},
                  {"list", List{1, "two"}}}});
  EXPECT_EQ(value_to_json(v),
            "{\"record\":\"stat\",\"n\":3,\"ok\":true,\"ratio\":0.5,\"whole\":2.0,\"none\":null,"
            "\"name\":\"caf\xc3\xa9\",\"raw\":{\"bytes\":\"00ab\"},\"list\":[1,\"two\"]}");
  EXPECT_EQ(value_to_json(Value(Record{"", {{"a", 1}}})), "{\"a\":1}");
  EXPECT_EQ(value_to_json(Value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(value_to_json(Value(Error{ErrorKind::unimplemented, "no"})),
            "{\"error\":{\"kind\":\"unimplemented\",\"reason\":\"no\"}}");
}

TEST(ValueJson, ValuesRoundTripThroughTheirJson) {
  for (const Value& v : {Value(nullptr), Value(false), Value(std::int64_t{-7}), Value(INT64_MAX), Value(0.25),
                         Value(3.0), Value("text \xe2\x9c\x93"), Value(Bytes{1, 2, 255}), Value(List{}),
                         Value(List{Value(List{1}), Value(Record{"p", {{"x", 1.5}}})}),
                         Value(Record{"", {{"a", Bytes{}}, {"b", List{nullptr}}}})}) {
    std::string text = value_to_json(v);
    auto back = parse_value_json(text);
    ASSERT_TRUE(back) << text << ": " << back.error();
    EXPECT_EQ(*back, v) << text;
  }
}

TEST(ValueJson, ArgumentsReadAsTheConventionSays) {
  auto r = parse_value_json(R"({"record":"point","x":1,"y":-2.5,"tags":["a"],"data":{"bytes":"CAFE"}})");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, Value(Record{"point", {{"x", 1}, {"y", -2.5}, {"tags", List{"a"}}, {"data", Bytes{0xca, 0xfe}}}}));
  // An object with more than "bytes" is a record; "record" that is no string is a field.
  EXPECT_EQ(*parse_value_json(R"({"bytes":"00","n":1})"), Value(Record{"", {{"bytes", "00"}, {"n", 1}}}));
  EXPECT_EQ(*parse_value_json(R"({"record":1})"), Value(Record{"", {{"record", 1}}}));
  EXPECT_EQ(*parse_value_json("\"notes\""), Value("notes"));
  EXPECT_EQ(*parse_value_json("1e2"), Value(100.0));
}

TEST(ValueJson, WhatJsonCannotSayIsRefusedWithWhere) {
  auto not_json = parse_value_json("notes");
  ASSERT_FALSE(not_json);
  EXPECT_NE(not_json.error().find("not JSON"), std::string::npos) << not_json.error();
  EXPECT_FALSE(parse_value_json("[1,]"));
  EXPECT_FALSE(parse_value_json("1 2"));
  auto big = parse_value_json("[0, 18446744073709551615]");
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().find("$[1]"), std::string::npos) << big.error();
  auto hex = parse_value_json(R"({"a":{"bytes":"xyz"}})");
  ASSERT_FALSE(hex);
  EXPECT_NE(hex.error().find("$.a"), std::string::npos) << hex.error();
  EXPECT_FALSE(parse_value_json(R"({"bytes":12})"));
  auto ref = parse_value_json(R"({"reference":true})");
  ASSERT_FALSE(ref);
  EXPECT_NE(ref.error().find("reference"), std::string::npos) << ref.error();
  EXPECT_FALSE(parse_value_json(std::string(200, '[') + std::string(200, ']')));
}

}  // namespace
}  // namespace vatic::test
