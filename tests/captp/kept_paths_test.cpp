// Paths into a pending answer along which calls went (spec/captp.md 5, "One
// path, one record"): the answer's handler keeps each such path's handler
// until the answer returns, so that the record's embargoes are found. They
// hold memory, so they are bounded per answer (`max_kept_paths`, section 7,
// Sending): a call along one path too many breaks `overloaded` before it is
// sent, and nothing else is refused for it. A path is kept once a call was
// sent along it, and found by an index, not a scan.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

captp::NodeOptions with_kept_paths(std::uint32_t n) {
  captp::NodeOptions o;
  o.session.max_kept_paths = n;
  return o;
}

struct KeptPaths : ::testing::Test, TwoVats {
  Ref<Echo> b_echo, to_b;
  KeptPaths() : TwoVats(with_kept_paths(4), captp::NodeOptions{}, nullptr) {}
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
};

TEST_F(KeptPaths, AtMostMaxKeptPathsPerPendingAnswerAndNothingElseIsRefused) {
  auto pending = to_b.send<&Echo::later>();  // answered when the test says
  std::vector<Promise<std::int64_t>> along;
  for (int i = 0; i < 4; ++i) along.push_back(field<Echo>(pending, "f" + std::to_string(i)).send<&Echo::echo>(i));
  // Calls along a path already kept keep nothing more (one path, one handler).
  along.push_back(field<Echo>(pending, "f0").send<&Echo::echo>(9));
  drain();
  for (auto& p : along) EXPECT_TRUE(p.pending()) << "a call along a kept path was refused";
  // A fifth path into the same answer is refused before it is sent.
  Error refused = error_of(field<Echo>(pending, "f4").send<&Echo::echo>(4));
  EXPECT_EQ(refused.kind, ErrorKind::overloaded) << refused.reason;
  EXPECT_NE(refused.reason.find("more than 4 paths"), std::string::npos) << refused.reason;
  // Other calls, and paths into another answer, go.
  EXPECT_EQ(get(to_b.send<&Echo::echo>(1)), 1);
  auto other = to_b.send<&Echo::hang>();  // pending while b_echo lives
  auto into_other = field<Echo>(other, "g").send<&Echo::echo>(2);
  drain();
  EXPECT_TRUE(into_other.pending()) << "a path into another answer was refused";
  // The answer returns: its paths are no longer kept (the calls along them
  // break: a reference has no fields), and new paths into a new answer go.
  b_echo.call<&Echo::resolve_later>(b_echo);
  for (auto& p : along) EXPECT_TRUE(run_until([&] { return !p.pending(); }));
  auto again = to_b.send<&Echo::later>();
  std::vector<Promise<std::int64_t>> more;
  for (int i = 0; i < 4; ++i) more.push_back(field<Echo>(again, "h" + std::to_string(i)).send<&Echo::echo>(i));
  drain();
  for (auto& p : more) EXPECT_TRUE(p.pending());
  b_echo.call<&Echo::resolve_later>(b_echo);
  for (auto& p : more) EXPECT_TRUE(run_until([&] { return !p.pending(); }));
}

TEST_F(KeptPaths, APathIsKeptWhenItsFirstCallThatWasSentGoes) {
  auto pending = to_b.send<&Echo::later>();
  // Held by the test: its first call cannot be sent (larger than a frame,
  // section 7), its second is. The second keeps it.
  Ref<Echo> f = field<Echo>(pending, "held");
  Error unsent = error_of(f.send<&Echo::mirror>(Bytes(17u << 20, 1)));
  EXPECT_EQ(unsent.kind, ErrorKind::failed) << unsent.reason;
  auto sent = f.send<&Echo::echo>(1);
  // Three more paths fill the bound of four only if "held" was kept.
  std::vector<Promise<std::int64_t>> along;
  for (int i = 0; i < 3; ++i) along.push_back(field<Echo>(pending, "f" + std::to_string(i)).send<&Echo::echo>(i));
  drain();
  EXPECT_TRUE(sent.pending());
  for (auto& p : along) EXPECT_TRUE(p.pending());
  EXPECT_EQ(error_of(field<Echo>(pending, "one-too-many").send<&Echo::echo>(5)).kind, ErrorKind::overloaded);
  b_echo.call<&Echo::resolve_later>(b_echo);
  EXPECT_TRUE(run_until([&] { return !sent.pending(); }));
}

TEST_F(KeptPaths, ACallThatCouldNotBeSentKeepsNoPath) {
  auto pending = to_b.send<&Echo::later>();
  // Not sent: nothing kept for it, so four other paths still fit.
  Error unsent = error_of(field<Echo>(pending, "unsent").send<&Echo::mirror>(Bytes(17u << 20, 1)));
  EXPECT_EQ(unsent.kind, ErrorKind::failed) << unsent.reason;
  std::vector<Promise<std::int64_t>> along;
  for (int i = 0; i < 4; ++i) along.push_back(field<Echo>(pending, "f" + std::to_string(i)).send<&Echo::echo>(i));
  drain();
  for (auto& p : along) EXPECT_TRUE(p.pending()) << "a path was refused: the unsent call kept one";
  b_echo.call<&Echo::resolve_later>(b_echo);
  for (auto& p : along) EXPECT_TRUE(run_until([&] { return !p.pending(); }));
}

}  // namespace
}  // namespace vatic::test
