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

// Memory goes back: a table that held many entries and now holds a few
// costs about what a few cost, once the high ids are free.
TEST(SlotTable, GivesBackTheSlotsPastTheLastLiveId) {
  SlotTable<int> t;
  for (int i = 0; i < 100'000; ++i) t.add(i);
  for (std::uint32_t id = 10; id < 100'000; ++id) t.take(id);
  EXPECT_EQ(t.size(), 10u);
  EXPECT_EQ(t.slots(), 10u);
  // Ids continue from the end, lowest free first, with nothing stale handed out.
  t.take(3);
  EXPECT_EQ(t.add(-3), 3u);
  EXPECT_EQ(t.add(10), 10u);
  EXPECT_EQ(t.add(11), 11u);
  EXPECT_EQ(*t.find(10), 10);
  EXPECT_EQ(t.find(50), nullptr);
}

TEST(SlotTable, ALiveHighIdKeepsTheSlotsBelowItAndTheFreedOnesAreReused) {
  SlotTable<int> t;
  for (int i = 0; i < 1'000; ++i) t.add(i);
  for (std::uint32_t id = 0; id < 999; ++id) t.take(id);
  EXPECT_EQ(t.slots(), 1'000u);  // id 999 is a name on the wire: it cannot move
  EXPECT_EQ(t.add(7), 0u);
  t.take(999);
  t.take(0);
  EXPECT_EQ(t.slots(), 0u);
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_EQ(t.add(static_cast<int>(i)), i);
}

// Released from the highest id down, each step trims one slot: the free list
// is rebuilt only when its stale ids are half of it, and every id handed out
// after is one that is really free.
TEST(SlotTable, ReleasingFromTheTopDownNeverHandsOutALiveId) {
  SlotTable<int> t;
  for (int i = 0; i < 2'000; ++i) t.add(i);
  for (std::uint32_t id = 0; id < 1'000; id += 2) t.take(id);    // holes below
  for (std::uint32_t id = 1'999; id >= 1'500; --id) t.take(id);  // the top, downwards
  EXPECT_EQ(t.slots(), 1'500u);
  std::size_t live_before = t.size();
  for (int i = 0; i < 700; ++i) {
    std::uint32_t id = t.add(-1);
    ASSERT_LT(id, 2'000u);
    if (id < 1'000) EXPECT_EQ(id % 2, 0u) << "an odd id below 1000 is still live";
  }
  EXPECT_EQ(t.size(), live_before + 700);
  for (std::uint32_t id = 1; id < 1'000; id += 2) EXPECT_EQ(*t.find(id), static_cast<int>(id));
}

TEST(PeerTable, TrimsToTheLastLiveIdAndGrowsOnlyToTheIdInserted) {
  PeerTable<int> t;
  for (std::uint32_t id = 0; id < 50'000; ++id) t.insert(id, 1);
  for (std::uint32_t id = 5; id < 50'000; ++id) t.take(id);
  EXPECT_EQ(t.slots(), 5u);
  ASSERT_TRUE(t.insert(100, 2));
  EXPECT_EQ(t.slots(), 101u);
  t.take(100);
  EXPECT_EQ(t.slots(), 5u);
  EXPECT_EQ(t.size(), 5u);
  EXPECT_EQ(t.insert(kMaxPeerId, 3), nullptr);
}

}  // namespace
}  // namespace vatic::captp
