// The operation handlers (captp/internal/ops.cpp) in the races and re-entries
// that honest use produces: two vats over an in-memory pipe, each loop run by
// the test thread step by step, so that every interleaving below is the one
// the test names and not a matter of timing.
//
//   a (Node, test thread) --memory pipe-- b (Node, Echo bootstrap, test thread)
#include "captp/internal/session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

// Lets go of a reference, inline, when the promise it listens to settles (as
// any inline listener of vat/promise_state.h may: followers, timeouts,
// replies to other vats).
class DropOnSettle final : public detail::Listener {
 public:
  explicit DropOnSettle(Ref<Echo> held) : held_(std::move(held)) {}
  void settled(detail::PromiseBase&) override { held_ = {}; }
  void run() override {}

 private:
  Ref<Echo> held_;
};

// Settling the answer of a return runs listeners before the pipelined fields
// of the answer are resolved; one of them may drop the last reference to such
// a field. (on_return used to resolve the fields through raw pointers: a
// use-after-free under ASan.)
TEST(Ops, ReturnOutlivesAListenerThatDropsAPipelinedField) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);  // b is an import now: fields are remote paths
  Promise<Value> pair = b.send<&Echo::pair>();
  Ref<Echo> kept = field<Echo>(pair, "left");
  pair.state()->listen(std::make_unique<DropOnSettle>(field<Echo>(pair, "left")));
  pair.state()->listen(std::make_unique<DropOnSettle>(field<Echo>(pair, "nope")));
  EXPECT_EQ(t.get(pair).as_record().find("n")->as_int(), 7);
  EXPECT_EQ(t.get(kept.send<&Echo::depth>()), 10);
  EXPECT_EQ(t.get(b.send<&Echo::echo>(3)), 3);
}

// a passes a pending promise to b, which lets it go at once: b's release of
// the import and a's resolve of it cross on the wire. b must ignore the late
// resolve (and release what it carries), not abort the session.
// (on_resolve used to abort with "resolve of unknown import".)
TEST(Ops, ResolveCrossingTheReleaseOfItsPromiseKeepsTheSession) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);
  Ref<Echo> mine = t.va.make<Echo>(5);
  auto made = t.va.submit([] { return make_promise<Ref<Echo>>(); });
  t.va.run_until_idle();
  auto [p, r] = made.get();
  Promise<void> ignored = b.send<&Echo::ignore>(to_value(p));
  t.va.run_until_idle();  // the call (exporting p) leaves a
  t.vb.run_until_idle();  // b runs it, drops p: its release and the return leave b
  ASSERT_EQ(t.b->sessions()[0].stats.imports, 0u);
  r.resolve(mine);  // a resolves p before it reads b's release
  t.drain();
  t.get(ignored);
  ASSERT_EQ(t.a->sessions().size(), 1u) << "the session ended";
  EXPECT_EQ(t.get(b.send<&Echo::echo>(2)), 2);
  // What the late resolve carried (a's object) was released again.
  EXPECT_TRUE(t.run_until([&] { return t.a->sessions()[0].stats.exports == 0; }))
      << t.a->sessions()[0].stats.exports << " exports left";
}

}  // namespace
}  // namespace vatic::test
