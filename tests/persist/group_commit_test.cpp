// Group commit (spec/persistence.md 4) when releasing one object's answer
// settles another object's call in the same commit turn.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/stored_value.h"
#include "persist_objects.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

// Writes, then answers with another persistent object's answer: its call
// settles when that answer is released, inside the other object's commit.
class Relay : public Persistent {
 public:
  Promise<std::int64_t> relay(Ref<Ledger> to, std::int64_t n) {
    relayed_.set(relayed_.get() + 1);
    Promise<std::int64_t> p = to.send<&Ledger::deposit>(n);
    // A second call of this object that writes and is fulfilled before the
    // commit turn: this object has pending writes in the same batch as the
    // ledger, after it.
    self(this).send<&Relay::touch>();
    return p;
  }
  void touch() { touched_.set(touched_.get() + 1); }
  std::int64_t relayed() { return relayed_.get(); }
  VATIC_METHODS(Relay, relay, touch, relayed)

 private:
  Cell<std::int64_t> relayed_{this, "relayed", 0};
  Cell<std::int64_t> touched_{this, "touched", 0};
};

class GroupCommit : public ::testing::Test {
 protected:
  GroupCommit() {
    host->register_kind<Ledger>({.name = "ledger", .version = 1});
    host->register_kind<Relay>({.name = "relay", .version = 1});
  }

  ManualClock clock;
  Vat vat{VatOptions{.name = "group-commit", .clock = &clock}};
  std::shared_ptr<MemoryEngine> engine = std::make_shared<MemoryEngine>();
  std::unique_ptr<Host> host = std::make_unique<Host>(vat, engine, HostOptions{.name = "h1", .idle = 10s});
};

TEST_F(GroupCommit, ACallSettledByAnotherObjectsCommitKeepsItsWritesBeforeItsAnswer) {
  Ref<Ledger> x = host->object<Ledger>("x");
  Ref<Relay> y = host->object<Relay>("y");
  Promise<std::int64_t> p = y.send<&Relay::relay>(x, 7);
  vat.run_until_idle();
  ASSERT_TRUE(p.ready());
  EXPECT_EQ(p.value(), 7);
  // The answer is out, so the relay's own write is durable (output gate).
  auto stored = engine->get("relay/y", "relayed");
  ASSERT_TRUE(stored) << "the relay's write was dropped although its answer was released";
  EXPECT_EQ(*stored, encode_stored(Value(std::int64_t{1})));
  EXPECT_EQ(engine->get("relay/y", "touched"), encode_stored(Value(std::int64_t{1})));
  EXPECT_EQ(vat.wait(y.send<&Relay::relayed>()), 1);
}

}  // namespace
}  // namespace vatic::persist::test
