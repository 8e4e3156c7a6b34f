// Group commit (spec/persistence.md 4): when releasing one object's answer
// settles another object's call in the same commit turn, and when one call
// of the batch puts a value above the limit.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/sqlite_engine.h"
#include "persist/stored_value.h"
#include "persist_objects.h"
#include "temp_dir.h"

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

// Puts a value of `n` bytes (encoded: a few more).
class Blobs : public Persistent {
 public:
  std::int64_t put(std::string key, std::int64_t n) {
    kv().put(key, Bytes(static_cast<std::size_t>(n), 0x5a));
    return n;
  }
  std::int64_t size(std::string key) {
    auto b = kv().get<Bytes>(key);
    return b ? static_cast<std::int64_t>(b->size()) : -1;
  }
  VATIC_METHODS(Blobs, put, size)
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

TEST(GroupCommitSqlite, AValueAboveTheLimitFailsOnlyItsOwnCall) {
  vatic::test::TempDir dir("vatic-persist");
  Vat vat;
  std::shared_ptr<Engine> e = SqliteEngine::open(dir / "objects.db");
  auto host = std::make_unique<Host>(vat, e);
  host->register_kind<Ledger>({.name = "ledger"});
  host->register_kind<Blobs>({.name = "blobs"});
  Ref<Blobs> b = host->object<Blobs>("b");
  const auto limit = static_cast<std::int64_t>(kMaxKvValue);
  // Calls of one commit turn: the one above the limit fails, alone.
  Promise<std::int64_t> big = b.send<&Blobs::put>("big", limit);
  Promise<std::int64_t> fits = b.send<&Blobs::put>("fits", limit - 16);
  Promise<std::int64_t> other = host->object<Ledger>("l").send<&Ledger::deposit>(3);
  vat.run_until_idle();
  ASSERT_TRUE(big.is_broken());
  EXPECT_EQ(big.error().kind, ErrorKind::failed);
  EXPECT_NE(big.error().reason.find("limit"), std::string::npos) << big.error().reason;
  ASSERT_TRUE(fits.ready()) << fits.error().reason;
  ASSERT_TRUE(other.ready()) << other.error().reason;
  EXPECT_EQ(other.value(), 3);
  EXPECT_EQ(host->stats().commit_failures, 0);
  // A reopened store holds what fit, and nothing of the refused value.
  host.reset();
  e = SqliteEngine::open(dir / "objects.db");
  host = std::make_unique<Host>(vat, e);
  host->register_kind<Blobs>({.name = "blobs"});
  b = host->object<Blobs>("b");
  EXPECT_EQ(vat.wait(b.send<&Blobs::size>("fits")), limit - 16);
  EXPECT_EQ(vat.wait(b.send<&Blobs::size>("big")), -1);
}

}  // namespace
}  // namespace vatic::persist::test
