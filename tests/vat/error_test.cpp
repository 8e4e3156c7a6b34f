#include "vat/error.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

TEST(Error, KindsHaveStableNames) {
  EXPECT_EQ(to_string(ErrorKind::failed), "failed");
  EXPECT_EQ(to_string(ErrorKind::disconnected), "disconnected");
  EXPECT_EQ(to_string(ErrorKind::overloaded), "overloaded");
  EXPECT_EQ(to_string(ErrorKind::unimplemented), "unimplemented");
}

TEST(Error, RendersAsKindColonReason) {
  EXPECT_EQ(to_string(Error{ErrorKind::overloaded, "queue full"}), "overloaded: queue full");
  EXPECT_EQ(to_string(Error{}), "failed: ");
}

TEST(Error, DefaultsToFailedWithNoReason) {
  Error e;
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_TRUE(e.reason.empty());
}

TEST(Error, ComparesByKindAndReason) {
  EXPECT_EQ((Error{ErrorKind::failed, "x"}), (Error{ErrorKind::failed, "x"}));
  EXPECT_NE((Error{ErrorKind::failed, "x"}), (Error{ErrorKind::disconnected, "x"}));
  EXPECT_NE((Error{ErrorKind::failed, "x"}), (Error{ErrorKind::failed, "y"}));
}

TEST(VatError, CarriesItsErrorAndDescribesItInWhat) {
  VatError e(ErrorKind::disconnected, "vat gone");
  EXPECT_EQ(e.error(), (Error{ErrorKind::disconnected, "vat gone"}));
  EXPECT_STREQ(e.what(), "disconnected: vat gone");

  VatError f(Error{ErrorKind::unimplemented, "no such method"});
  EXPECT_EQ(f.error().kind, ErrorKind::unimplemented);
  EXPECT_STREQ(f.what(), "unimplemented: no such method");
}

TEST(VatError, IsAStdException) {
  try {
    throw VatError(ErrorKind::failed, "why");
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "failed: why");
    return;
  }
  FAIL() << "not caught as std::exception";
}

TEST(ErrorFromException, KeepsTheKindOfAVatError) {
  auto e = error_from_exception(std::make_exception_ptr(VatError(ErrorKind::overloaded, "slow down")));
  EXPECT_EQ(e, (Error{ErrorKind::overloaded, "slow down"}));
}

TEST(ErrorFromException, MapsOtherStdExceptionsToFailedWithWhat) {
  auto e = error_from_exception(std::make_exception_ptr(std::out_of_range("index 7")));
  EXPECT_EQ(e, (Error{ErrorKind::failed, "index 7"}));
}

TEST(ErrorFromException, MapsNonExceptionsToFailedWithAFixedText) {
  auto e = error_from_exception(std::make_exception_ptr(42));
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_FALSE(e.reason.empty());
}

TEST(ThrowError, ThrowsAVatErrorOfThatKind) {
  try {
    throw_error(ErrorKind::unimplemented, "nope");
  } catch (const VatError& e) {
    EXPECT_EQ(e.error(), (Error{ErrorKind::unimplemented, "nope"}));
    return;
  }
  FAIL() << "throw_error did not throw";
}

}  // namespace
}  // namespace vatic
