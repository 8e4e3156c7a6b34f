// The one JSON writer (vat/json.h): Boost.JSON's output made inert on a
// terminal and valid UTF-8 whatever the strings held, and reals written as
// people write them.
#include "vat/json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "tests/tools/json_read.h"

namespace vatic::test {
namespace {

TEST(JsonOut, ControlsC1DelAndLineSeparatorsBecomeEscapes) {
  EXPECT_EQ(json_quote("a\"b\\c\n\t\x01\x7f"), "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"");
  EXPECT_EQ(json_quote("\xc2\x80\xc2\x9b\xc2\x9f"), "\"\\u0080\\u009b\\u009f\"");
  EXPECT_EQ(json_quote("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\"");
  EXPECT_EQ(json_quote("\x1b[2J"), "\"\\u001b[2J\"");
  // U+00A0 (the first character after C1) and other text stay as they are.
  EXPECT_EQ(json_quote("\xc2\xa0 caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"),
            "\"\xc2\xa0 caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\"");
}

TEST(JsonOut, InvalidUtf8BecomesEscapedReplacementCharacters) {
  EXPECT_EQ(json_quote("\xff\xc3"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(json_quote("a\xc2\"b"), "\"a\\ufffd\\\"b\"");  // a cut sequence before a quote
  EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
  // A string that skipped json_text() comes out valid all the same.
  boost::json::value raw = boost::json::string("x\xff\xc2\x9b");
  EXPECT_EQ(json_write(raw), "\"x\\ufffd\\u009b\"");
}

TEST(JsonOut, KeysAreEscapedLikeValues) {
  boost::json::object o;
  o[json_text("k\xc2\x9b\xff")] = json_text("v");
  std::string out = json_write(o);
  EXPECT_EQ(out, "{\"k\\u009b\\ufffd\":\"v\"}");
  auto back = parse_json(out);
  ASSERT_TRUE(back && back->is_object());
  EXPECT_EQ(str(*back, "k\xc2\x9b\xef\xbf\xbd"), "v");
}

TEST(JsonOut, RealsReadAsWrittenAndStayReals) {
  boost::json::object o{{"half", 0.5},  {"whole", 12.0}, {"big", 1e300},
                        {"neg", -2.25}, {"int", 42},     {"uint", 18446744073709551615ull},
                        {"tiny", 1e-7}};
  std::string out = json_write(o);
  EXPECT_EQ(out,
            "{\"half\":0.5,\"whole\":12.0,\"big\":1e+300,\"neg\":-2.25,\"int\":42,"
            "\"uint\":18446744073709551615,\"tiny\":1e-07}");
  auto back = parse_json(out);
  ASSERT_TRUE(back);
  EXPECT_TRUE(member(*back, "whole")->is_double());
  EXPECT_TRUE(member(*back, "int")->is_int64());
  EXPECT_EQ(number(*back, "tiny"), 1e-7);
}

TEST(JsonOut, NumbersInsideStringsAreLeftAlone) {
  EXPECT_EQ(json_write(boost::json::array{"5E-1", 5, "x\\1e3"}), "[\"5E-1\",5,\"x\\\\1e3\"]");
}

}  // namespace
}  // namespace vatic::test
