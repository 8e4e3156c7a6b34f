#include "vat/internal/pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace vatic::detail {
namespace {

struct Block {
  void* p;
  std::size_t n;
  unsigned char fill;
};

TEST(Pool, BlocksOfEverySizeAreUsableAndDistinct) {
  std::vector<Block> live;
  for (std::size_t n = 1; n <= 600; n += 7) {
    auto fill = static_cast<unsigned char>(n);
    void* p = pool_alloc(n);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t), 0u);
    std::memset(p, fill, n);
    live.push_back({p, n, fill});
  }
  for (const auto& b : live) {
    auto* bytes = static_cast<unsigned char*>(b.p);
    for (std::size_t i = 0; i < b.n; ++i) ASSERT_EQ(bytes[i], b.fill) << "block of " << b.n << " overwritten";
  }
  for (const auto& b : live) pool_free(b.p, b.n);
}

TEST(Pool, FreedBlocksCanBeAllocatedAgainWithoutOverlap) {
  for (int round = 0; round < 3; ++round) {
    std::vector<void*> ps;
    for (int i = 0; i < 1000; ++i) {
      ps.push_back(pool_alloc(48));
      std::memset(ps.back(), i & 0xff, 48);
    }
    EXPECT_EQ(std::set<void*>(ps.begin(), ps.end()).size(), ps.size());
    for (int i = 0; i < 1000; ++i)
      ASSERT_EQ(static_cast<unsigned char*>(ps[i])[47], static_cast<unsigned char>(i & 0xff));
    for (void* p : ps) pool_free(p, 48);
  }
}

TEST(Pool, BlocksMayBeFreedOnAnotherThread) {
  std::vector<void*> ps;
  for (int i = 0; i < 500; ++i) {
    ps.push_back(pool_alloc(100));
    std::memset(ps.back(), i & 0xff, 100);
  }
  bool intact = true;
  std::thread other([&] {
    for (int i = 0; i < 500; ++i) intact = intact && static_cast<unsigned char*>(ps[i])[99] == (i & 0xff);
    for (void* p : ps) pool_free(p, 100);
    // And that thread hands them out again.
    std::vector<void*> again;
    for (int i = 0; i < 500; ++i) {
      again.push_back(pool_alloc(100));
      std::memset(again.back(), 1, 100);
    }
    for (void* p : again) pool_free(p, 100);
  });
  other.join();
  EXPECT_TRUE(intact);
  void* r = pool_alloc(100);
  ASSERT_NE(r, nullptr);
  std::memset(r, 2, 100);
  pool_free(r, 100);
}

}  // namespace
}  // namespace vatic::detail
