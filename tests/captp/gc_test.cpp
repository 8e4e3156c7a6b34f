// Export and import counts (captp/internal/gc.cpp, spec/captp.md section 6)
// when a message cannot be sent: two vats over an in-memory pipe, driven by
// the test thread.
//
//   a (Node, test thread) --memory pipe-- b (Node, Echo bootstrap, test thread)
#include "captp/internal/session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

Value nested(int levels) {
  Value v;
  for (int i = 0; i < levels; ++i) v = Value(List{std::move(v)});
  return v;
}

std::size_t exports_of(TwoVats& t) { return t.a->sessions()[0].stats.exports; }

// The reference is exported (its count raised) before the value that cannot
// be sent is reached: the call breaks, and nothing of it may stay exported.
// (The count used to stay raised, keeping the object alive for good.)
TEST(Gc, CallThatFailsPartWayLeavesNoExportBehind) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);
  std::size_t objects = t.va.live_objects();
  {
    Ref<Echo> mine = t.va.make<Echo>(3);
    Error deep = t.error_of(b.send_values("hold", {to_value(mine), nested(100)}));
    EXPECT_EQ(deep.kind, ErrorKind::failed) << deep.reason;
    EXPECT_EQ(exports_of(t), 0u);
    Error big = t.error_of(b.send_values("hold", {to_value(mine), Value(Bytes(17u << 20))}));
    EXPECT_EQ(big.kind, ErrorKind::failed) << big.reason;
    EXPECT_EQ(exports_of(t), 0u);
    // Sent for real, it is exported once, and released once b lets it go.
    t.get(b.send<&Echo::hold>(mine));
    EXPECT_EQ(exports_of(t), 1u);
    EXPECT_EQ(t.get(b.send<&Echo::call_held>(4)), 4);
    t.get(b.send<&Echo::hold>(Ref<Echo>()));
  }
  EXPECT_TRUE(t.run_until([&] { return exports_of(t) == 0 && t.va.live_objects() == objects; }))
      << exports_of(t) << " exports, " << t.va.live_objects() - objects << " objects left";
}

// A promise whose export was undone and which is then sent again resolves
// once: the peer sees one resolve, and the session goes on.
TEST(Gc, PromiseExportUndoneThenSentAgainResolvesOnce) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);
  Ref<Echo> holder = t.va.make<Echo>();
  Promise<Ref<Echo>> p = holder.send<&Echo::later>();
  t.va.run_until_idle();
  Error deep = t.error_of(b.send_values("hold", {to_value(p), nested(100)}));
  EXPECT_EQ(deep.kind, ErrorKind::failed) << deep.reason;
  t.get(b.send_values("hold", {to_value(p)}));
  Ref<Echo> mine = t.va.make<Echo>(6);
  t.get(holder.send<&Echo::resolve_later>(mine));
  EXPECT_EQ(t.get(b.send<&Echo::call_held>(5)), 5);
  ASSERT_EQ(t.a->sessions().size(), 1u);
  EXPECT_EQ(t.get(b.send<&Echo::echo>(2)), 2);
}

}  // namespace
}  // namespace vatic::test
