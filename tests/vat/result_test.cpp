#include "vat/result.h"

#include <gtest/gtest.h>

#include <memory>

namespace vatic {
namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return refuse(std::string("not a digit: ") + c);
  return c - '0';
}

TEST(Result, HoldsTheValueOrTheReason) {
  auto good = parse_digit('7');
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 7);
  EXPECT_EQ(good.error(), "");
  auto bad = parse_digit('x');
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "not a digit: x");
}

TEST(Result, ValueOfARefusalThrowsWithTheReason) {
  auto bad = parse_digit('x');
  try {
    (void)bad.value();
    FAIL() << "no throw";
  } catch (const VatError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::failed);
    EXPECT_EQ(e.error().reason, "not a digit: x");
  }
}

TEST(Result, MovesMoveOnlyValuesOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(3);
  std::unique_ptr<int> p = *std::move(r);
  EXPECT_EQ(*p, 3);
}

TEST(Result, VoidCarriesOnlyTheVerdict) {
  Result<void> ok;
  EXPECT_TRUE(ok);
  Result<void> no = refuse("closed");
  EXPECT_FALSE(no);
  EXPECT_EQ(no.error(), "closed");
  EXPECT_THROW(no.value(), VatError);
}

}  // namespace
}  // namespace vatic
