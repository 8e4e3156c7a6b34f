// The session's id tables (captp/internal/tables.h): which ids they hand out
// and take back, as spec/captp.md section 2 fixes them.
#include "captp/internal/tables.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace vatic::captp {
namespace {

// spec/captp.md 2: freed ids are reused lowest first, so ids stay near the
// number of live entries. (They used to be reused last freed first.)
TEST(SlotTable, ReusesTheLowestFreedIdFirst) {
  SlotTable<int> t;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.add(i), static_cast<std::uint32_t>(i));
  t.take(1);
  t.take(3);
  t.take(0);
  EXPECT_EQ(t.add(10), 0u);
  EXPECT_EQ(t.add(11), 1u);
  EXPECT_EQ(t.add(12), 3u);
  EXPECT_EQ(t.add(13), 5u);
  EXPECT_EQ(t.size(), 6u);
  EXPECT_EQ(*t.find(3), 12);
}

TEST(SlotTable, AnIdFreedTwiceIsHandedOutOnce) {
  SlotTable<int> t;
  t.add(0);
  t.add(1);
  t.take(0);
  EXPECT_FALSE(t.take(0).has_value());
  EXPECT_EQ(t.add(2), 0u);
  EXPECT_EQ(t.add(3), 2u);
}

}  // namespace
}  // namespace vatic::captp
