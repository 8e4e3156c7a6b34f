// "Did you mean" (tools/suggest.h): the distance, and which words are close
// enough to suggest.
#include "tools/suggest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vatic::test {
namespace {

using cli::closest;
using cli::edit_distance;

const std::vector<std::string> kVerbs = {"id", "serve", "attenuate", "revoke", "inspect", "call",
                                         "ls", "cat",   "get",       "put",    "rm",      "mkdir"};

TEST(Suggest, DistanceCountsEditsAndAdjacentSwapsAsOne) {
  EXPECT_EQ(edit_distance("serve", "serve"), 0u);
  EXPECT_EQ(edit_distance("cta", "cat"), 1u);  // a swap
  EXPECT_EQ(edit_distance("sever", "serve"), 2u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("LS", "ls"), 0u);  // case is ignored
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(Suggest, ClosestVerbIsSuggestedWhenNearEnough) {
  EXPECT_EQ(closest("sever", kVerbs), "serve");
  EXPECT_EQ(closest("cta", kVerbs), "cat");
  EXPECT_EQ(closest("lst", kVerbs), "ls");
  EXPECT_EQ(closest("atenuate", kVerbs), "attenuate");
  EXPECT_EQ(closest("inspcet", kVerbs), "inspect");
  EXPECT_EQ(closest("mkdr", kVerbs), "mkdir");
}

TEST(Suggest, NothingIsSuggestedWhenNothingIsClose) {
  EXPECT_EQ(closest("frobnicate", kVerbs), std::nullopt);
  EXPECT_EQ(closest("xyz", kVerbs), std::nullopt);
  EXPECT_EQ(closest("", kVerbs), std::nullopt);
  EXPECT_EQ(closest("sv", std::vector<std::string>{"ls", "rm"}), std::nullopt);  // two edits, two letters
}

TEST(Suggest, FlagsAreComparedWithoutCountingTheirDashes) {
  const std::vector<std::string> flags = {"--help", "--store", "--json", "--force", "--quiet"};
  EXPECT_EQ(closest("--jsn", flags), "--json");
  EXPECT_EQ(closest("--froce", flags), "--force");
  EXPECT_EQ(closest("--stor", flags), "--store");
  EXPECT_EQ(closest("--verbose", flags), std::nullopt);
}

}  // namespace
}  // namespace vatic::test
