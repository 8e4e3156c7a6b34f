// Paths into a pending answer along which calls went (spec/captp.md 5, "One
// path, one record"): the answer's handler keeps each such path's handler
// until the answer returns, so that the record's embargoes are found. They
// hold memory like questions do, so they count toward `max_questions`
// (section 7, Sending), and a path is found by an index, not a scan.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

captp::NodeOptions with_max_questions(std::size_t n) {
  captp::NodeOptions o;
  o.session.max_questions = n;
  return o;
}

struct KeptPaths : ::testing::Test, TwoVats {
  Ref<Echo> b_echo, to_b;
  KeptPaths() : TwoVats(with_max_questions(9), captp::NodeOptions{}, nullptr) {}
  void SetUp() override {
    b_echo = vb.make<Echo>();
    b->set_bootstrap(b_echo);
    auto [ea, eb] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(eb));
    to_b = a->connect<Echo>(b->id(), std::move(ea));
    ASSERT_EQ(get(to_b.send<&Echo::echo>(0)), 0);
  }
  void TearDown() override {
    b_echo = {};
    to_b = {};
  }
  std::size_t questions() {
    for (const auto& s : a->sessions()) return s.stats.questions;
    return 0;
  }
};

TEST_F(KeptPaths, PathsCallsWentAlongCountTowardMaxQuestionsUntilTheAnswerReturns) {
  auto pending = to_b.send<&Echo::later>();  // one question, answered later
  std::vector<Promise<std::int64_t>> along;
  for (int i = 0; i < 4; ++i) along.push_back(field<Echo>(pending, "f" + std::to_string(i)).send<&Echo::echo>(i));
  // A second call along a path already kept keeps nothing more: the same
  // handler (one path, one handler).
  Ref<Echo> f0 = field<Echo>(pending, "f0");
  drain();
  ASSERT_EQ(questions(), 5u);
  // 5 questions and 4 kept paths: the ninth slot is taken.
  Error refused = error_of(to_b.send<&Echo::echo>(1));
  EXPECT_EQ(refused.kind, ErrorKind::overloaded) << refused.reason;
  EXPECT_EQ(error_of(f0.send<&Echo::echo>(2)).kind, ErrorKind::overloaded);
  // The answer returns: the paths are no longer kept (the calls along them
  // break: a reference has no fields), and calls go again.
  b_echo.call<&Echo::resolve_later>(b_echo);
  for (auto& p : along) EXPECT_TRUE(run_until([&] { return !p.pending(); }));
  EXPECT_TRUE(run_until([&] { return questions() == 0; }));
  EXPECT_EQ(get(to_b.send<&Echo::echo>(3)), 3);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(get(to_b.send<&Echo::echo>(i)), i);
}

TEST_F(KeptPaths, ACallThatCouldNotBeSentKeepsNoPath) {
  auto pending = to_b.send<&Echo::later>();
  std::vector<Promise<std::int64_t>> hung;
  for (int i = 0; i < 7; ++i) hung.push_back(to_b.send<&Echo::hang>());
  drain();
  ASSERT_EQ(questions(), 8u);
  // A message larger than a frame breaks the call before anything is sent
  // (section 7, Frames): the path was never used, so nothing is kept for it.
  Error unsent = error_of(field<Echo>(pending, "unsent").send<&Echo::mirror>(Bytes(17u << 20, 1)));
  EXPECT_EQ(unsent.kind, ErrorKind::failed) << unsent.reason;
  // The ninth slot is still free: a call along a path goes, and keeps it.
  auto along = field<Echo>(pending, "sent").send<&Echo::echo>(1);
  drain();
  EXPECT_EQ(questions(), 9u);
  EXPECT_EQ(error_of(to_b.send<&Echo::echo>(2)).kind, ErrorKind::overloaded);
  b_echo.call<&Echo::resolve_later>(b_echo);
  EXPECT_TRUE(run_until([&] { return !along.pending(); }));
  EXPECT_TRUE(run_until([&] { return questions() == 7; }));
  EXPECT_EQ(get(to_b.send<&Echo::echo>(4)), 4);
}

}  // namespace
}  // namespace vatic::test
