#include "vat/utf8.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace vatic::utf8 {
namespace {

TEST(Utf8, DecodesEachLengthAndItsCodePoint) {
  EXPECT_EQ(decode("A").code_point, U'A');
  EXPECT_EQ(decode("\xc3\xa9").code_point, U'\u00e9');
  EXPECT_EQ(decode("\xe2\x82\xac").code_point, U'\u20ac');
  EXPECT_EQ(decode("\xf0\x9f\x98\x80").code_point, U'\U0001F600');
  EXPECT_EQ(decode("\xf0\x9f\x98\x80").size, 4u);
}

TEST(Utf8, RefusesOverlongSurrogatesAndBeyondTheRange) {
  EXPECT_EQ(decode("\xc0\x80").size, 0u);          // overlong NUL
  EXPECT_EQ(decode("\xe0\x80\xaf").size, 0u);      // overlong '/'
  EXPECT_EQ(decode("\xed\xa0\x80").size, 0u);      // U+D800
  EXPECT_EQ(decode("\xf4\x90\x80\x80").size, 0u);  // U+110000
  EXPECT_EQ(decode("\xe2\x82").size, 0u);          // cut short
  EXPECT_EQ(decode("\x80").size, 0u);              // lone continuation
  EXPECT_EQ(decode("").size, 0u);
  EXPECT_FALSE(is_valid(std::string_view("ok\xff", 3)));
  EXPECT_TRUE(is_valid("caf\xc3\xa9"));
}

TEST(Utf8, WholePrefixNeverCutsACharacter) {
  std::string_view s = "a\xe2\x82\xac";  // "a€"
  EXPECT_EQ(whole_prefix(s, 1), "a");
  EXPECT_EQ(whole_prefix(s, 2), "a");
  EXPECT_EQ(whole_prefix(s, 3), "a");
  EXPECT_EQ(whole_prefix(s, 4), s);
  EXPECT_EQ(whole_prefix(s, 10), s);
}

TEST(Utf8, DropCutTailDropsOnlyAnIncompleteLastCharacter) {
  EXPECT_EQ(drop_cut_tail("a\xe2\x82"), "a");
  EXPECT_EQ(drop_cut_tail("a\xe2"), "a");
  EXPECT_EQ(drop_cut_tail("a\xe2\x82\xac"), "a\xe2\x82\xac");
  EXPECT_EQ(drop_cut_tail("ab"), "ab");
  EXPECT_EQ(drop_cut_tail(""), "");
}

TEST(Utf8, ToValidReplacesEachBadByte) {
  EXPECT_EQ(to_valid(std::string_view("a\xff\xfe"
                                      "b",
                                      4)),
            "a\xef\xbf\xbd\xef\xbf\xbd"
            "b");
  EXPECT_EQ(to_valid("caf\xc3\xa9"), "caf\xc3\xa9");
}

RC_GTEST_PROP(Utf8, ToValidIsValidAndKeepsValidText, (const std::string& s)) {
  auto clean = to_valid(s);
  RC_ASSERT(is_valid(clean));
  if (is_valid(s)) RC_ASSERT(clean == s);
}

RC_GTEST_PROP(Utf8, WholePrefixOfValidTextIsValid, (const std::string& raw, std::size_t cut)) {
  auto s = to_valid(raw);
  auto p = whole_prefix(s, cut % (s.size() + 1));
  RC_ASSERT(is_valid(p));
  RC_ASSERT(p.size() + 3 >= std::min(s.size(), cut % (s.size() + 1)));
}

}  // namespace
}  // namespace vatic::utf8
