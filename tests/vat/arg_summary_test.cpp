#include "vat/internal/arg_summary.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "vat/vatic.h"

namespace vatic::detail {
namespace {

std::string format(const ArgCapture& c, std::size_t cap = kArgSummaryMax) {
  char out[256];
  return std::string(out, format_capture(c, out, std::min(cap, sizeof out)));
}

template <class... A>
std::string typed(A... args) {
  ArgCapture c;
  capture_tuple(std::tuple<A...>(std::move(args)...), c);
  return format(c);
}

std::string value(const Value& v) {
  char out[kArgSummaryMax];
  SummaryOut o(out, sizeof out);
  summarize_value(v, o);
  return std::string(out, o.size());
}

TEST(ArgSummary, TypedScalarsAreFormattedOnlyWhenRead) {
  EXPECT_EQ(typed(std::int64_t{-7}, 2.25, true, std::uint8_t{200}), "-7, 2.25, true, 200");
  ArgCapture none;
  capture_tuple(std::tuple<>(), none);
  EXPECT_EQ(none.format, nullptr);
  EXPECT_EQ(format(none), "");
}

TEST(ArgSummary, TextArgumentsShareWhatTheScalarsLeave) {
  // Two strings and an int64: (48 - 8) / 2 - 2 = 18 bytes each.
  EXPECT_EQ(typed(std::string(30, 'a'), std::int64_t{1}, std::string("b")),
            "\"" + std::string(18, 'a') + "\xE2\x80\xA6\", 1, \"b\"");
}

TEST(ArgSummary, OutputIsCutWithAnEllipsisAndNeverSplitsACharacter) {
  char out[10];
  SummaryOut o(out, sizeof out);
  o.put("abcdef\xC3\xA9xyz");  // 7 bytes fit (3 are kept for the ellipsis): up to half the é
  EXPECT_TRUE(o.full());
  EXPECT_EQ(std::string(out, o.size()), "abcdef\xE2\x80\xA6");
  o.put("more");
  EXPECT_EQ(o.size(), 9u);
}

TEST(ArgSummary, QuotedTextEscapesControlsQuotesAndBadUtf8) {
  char out[64];
  SummaryOut o(out, sizeof out);
  o.put_quoted("a\"b\\c\n\x01\xC3\xA9\xC3", false);
  EXPECT_EQ(std::string(out, o.size()), "\"a\\\"b\\\\c\\n\\x01\xC3\xA9\\xc3\"");
}

TEST(ArgSummary, ValuesShowAsShortTags) {
  EXPECT_EQ(value(Value()), "null");
  EXPECT_EQ(value(Value(std::int64_t{42})), "42");
  EXPECT_EQ(value(Value("hi")), "\"hi\"");
  EXPECT_EQ(value(Value(Bytes(3))), "<bytes 3>");
  EXPECT_EQ(value(Value(List{Value(1), Value(2)})), "<list 2>");
  EXPECT_EQ(value(Value(Record{"Point", {}})), "<record Point>");
  EXPECT_EQ(value(Value(Error{ErrorKind::overloaded, "x"})), "<error overloaded>");
  EXPECT_EQ(value(Value(std::string(30, 'z'))), "\"" + std::string(24, 'z') + "\xE2\x80\xA6\"");
}

TEST(ArgSummary, ATypedValueArgumentIsSummarizedAtOnce) {
  EXPECT_EQ(typed(Value(Bytes(9)), std::int64_t{3}), "<bytes 9>, 3");
}

}  // namespace
}  // namespace vatic::detail
