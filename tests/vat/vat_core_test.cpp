#include "vat/internal/vat_core.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/vat/test_objects.h"
#include "vat/internal/far.h"

namespace vatic::detail {
namespace {

class Tagged final : public CrossThreadTurn {
 public:
  Tagged(int id, std::vector<int>* destroyed) : id_(id), destroyed_(destroyed) {}
  ~Tagged() override {
    if (destroyed_) destroyed_->push_back(id_);
  }
  void run() override {}
  int id() const { return id_; }

 private:
  int id_;
  std::vector<int>* destroyed_;
};

class CountingWaker final : public Waker {
 public:
  void wake() override { ++wakes; }
  int wakes = 0;
};

std::vector<int> ids(TurnQueue& q) {
  std::vector<int> out;
  while (Turn* t = q.pop()) {
    out.push_back(static_cast<Tagged*>(t)->id());
    delete t;
  }
  return out;
}

TEST(VatCore, KeepsItsName) { EXPECT_EQ(VatCore("core").name(), "core"); }

TEST(VatCore, TakeHandsOverPushedTurnsInOrder) {
  VatCore core("c");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(core.push(new Tagged(i, nullptr)));
  TurnQueue q;
  core.take(q);
  EXPECT_EQ(ids(q), (std::vector<int>{0, 1, 2, 3, 4}));
  core.take(q);
  EXPECT_TRUE(q.empty());
}

TEST(VatCore, WakesOncePerBatchUntilTaken) {
  VatCore core("c");
  CountingWaker w;
  core.set_waker(&w);
  core.push(new Tagged(1, nullptr));
  core.push(new Tagged(2, nullptr));
  EXPECT_EQ(w.wakes, 1);
  TurnQueue q;
  core.take(q);
  core.push(new Tagged(3, nullptr));
  EXPECT_EQ(w.wakes, 2);
  core.take(q);
  EXPECT_EQ(ids(q), (std::vector<int>{1, 2, 3}));
}

TEST(VatCore, AClosedGateRefusesPushButTakesCleanups) {
  VatCore core("c");
  core.close();
  EXPECT_TRUE(core.closed());
  std::vector<int> destroyed;
  auto* t = new Tagged(1, &destroyed);
  EXPECT_FALSE(core.push(t));
  EXPECT_TRUE(destroyed.empty());  // the caller still owns it
  delete t;
  EXPECT_TRUE(core.push_cleanup(new Tagged(2, nullptr)));
  TurnQueue q;
  core.take(q);
  EXPECT_EQ(ids(q), (std::vector<int>{2}));
}

TEST(VatCore, ReleaseHandsBackTheInboxAndRefusesEverythingAfter) {
  VatCore core("c");
  core.push(new Tagged(1, nullptr));
  core.push_cleanup(new Tagged(2, nullptr));
  TurnQueue inbox;
  std::vector<HandlerHold> targets;
  core.release(inbox, targets);
  EXPECT_TRUE(core.released());
  EXPECT_TRUE(core.closed());
  EXPECT_EQ(ids(inbox), (std::vector<int>{1, 2}));
  auto* t = new Tagged(3, nullptr);
  EXPECT_FALSE(core.push_cleanup(t));
  EXPECT_FALSE(core.push(t));
  delete t;
}

TEST(VatCore, ReleaseHandsBackTheTargetsOfLinkedEntries) {
  Vat vat;
  auto c = vat.make<test::Counter>();
  {
    auto pc = portable(c);
    auto pc2 = portable(c);
    c = {};
    EXPECT_EQ(vat.live_objects(), 1u);
    // Dropping the portables after the release finds their entries already emptied.
    vat.release();
    EXPECT_EQ(vat.live_objects(), 0u);
  }
}

TEST(VatCore, PushesFromManyThreadsAreAllDelivered) {
  VatCore core("c");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&core, t] {
      for (int i = 0; i < 250; ++i) core.push(new Tagged(t * 1000 + i, nullptr));
    });
  for (auto& t : threads) t.join();
  TurnQueue q;
  core.take(q);
  auto got = ids(q);
  ASSERT_EQ(got.size(), 1000u);
  // Per producer, FIFO.
  std::vector<int> last(4, -1);
  for (int id : got) {
    int t = id / 1000, i = id % 1000;
    EXPECT_GT(i, last[t]);
    last[t] = i;
  }
}

TEST(TurnQueue, IsAFifoThatSplicesAndClears) {
  std::vector<int> destroyed;
  TurnQueue a, b;
  a.push(new Tagged(1, &destroyed));
  a.push(new Tagged(2, &destroyed));
  b.push(new Tagged(3, &destroyed));
  a.splice(b);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(a.size(), 3u);
  Turn* first = a.pop();
  EXPECT_EQ(static_cast<Tagged*>(first)->id(), 1);
  delete first;
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(destroyed, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace vatic::detail
