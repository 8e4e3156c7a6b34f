#include "persist/host.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "persist/memory_engine.h"
#include "persist/sqlite_engine.h"
#include "persist/stored_value.h"
#include "persist_objects.h"
#include "temp_dir.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

class HostTest : public ::testing::Test {
 protected:
  HostTest() { Ledger::alive = 0; }

  std::unique_ptr<Host> make_host(std::shared_ptr<Engine> e, std::string name = "h1") {
    auto h = std::make_unique<Host>(vat, std::move(e), HostOptions{.name = std::move(name), .idle = 10s});
    h->register_kind<Ledger>({.name = "ledger", .version = 1});
    h->register_kind<WritesOnActivate>({.name = "bad", .version = 1});
    return h;
  }

  template <class T>
  T wait(Promise<T> p) {
    return vat.wait(std::move(p));
  }
  // The error a promise broke with (fails the test if it did not break).
  template <class T>
  Error broken(Promise<T> p) {
    vat.run_until_idle();
    EXPECT_TRUE(p.is_broken());
    return p.is_broken() ? p.error() : Error{};
  }

  ManualClock clock;
  Vat vat{VatOptions{.name = "persist", .clock = &clock}};
  std::shared_ptr<MemoryEngine> engine = std::make_shared<MemoryEngine>();
  std::unique_ptr<Host> host = make_host(engine);
};

TEST_F(HostTest, AWriteCommitsBeforeItsAnswerIsReleased) {
  Ref<Ledger> alice = host->object<Ledger>("alice");
  Promise<std::int64_t> p = alice.send<&Ledger::deposit>(5);
  EXPECT_TRUE(p.pending());  // nothing ran yet
  EXPECT_EQ(wait(p), 5);
  // The answer came out, so the write is in the engine (no host cache involved).
  auto stored = engine->get("ledger/alice", "balance");
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, encode_stored(Value(std::int64_t{5})));
  EXPECT_EQ(host->stats().commits, 1);
}

TEST_F(HostTest, AThrowingMethodRollsBackItsWritesAndTheObjectKeepsServing) {
  Ref<Ledger> alice = host->object<Ledger>("alice");
  EXPECT_EQ(wait(alice.send<&Ledger::deposit>(5)), 5);
  Error e = broken(alice.send<&Ledger::deposit_then_fail>(100));
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "refused after writing");
  EXPECT_EQ(wait(alice.send<&Ledger::balance>()), 5);
  EXPECT_FALSE(engine->get("ledger/alice", "poison"));
  EXPECT_EQ(wait(alice.send<&Ledger::deposit>(1)), 6);
  EXPECT_EQ(host->stats().rolled_back, 1);
  EXPECT_EQ(host->stats().activations, 1);
}

TEST_F(HostTest, CallsInOneQueueShareOneGroupCommit) {
  std::vector<Promise<std::int64_t>> answers;
  for (int i = 0; i < 10; ++i)
    answers.push_back(host->object<Ledger>(fmt::format("acct{}", i)).send<&Ledger::deposit>(i + 1));
  vat.run_until_idle();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(answers[i].value(), i + 1);
  EXPECT_EQ(engine->commits(), 1);
}

TEST_F(HostTest, ATaskIsOneTransactionAcrossItsAwait) {
  Ref<Teller> teller = vat.make<Teller>();
  Ref<Ledger> alice = host->object<Ledger>("alice");
  Promise<std::int64_t> p = alice.send<&Ledger::deposit_after>(teller);
  vat.run_until_idle();
  EXPECT_TRUE(p.pending());
  // The call is still running: its first write is neither committed nor
  // visible to another call.
  EXPECT_EQ(wait(alice.send<&Ledger::balance>()), 0);
  EXPECT_FALSE(engine->get("ledger/alice", "balance"));
  teller.call<&Teller::release>(10);
  EXPECT_EQ(wait(p), 11);
  EXPECT_EQ(wait(alice.send<&Ledger::balance>()), 11);
}

TEST_F(HostTest, AFailedTaskRollsBackWritesFromBeforeAndAfterItsAwait) {
  Ref<Teller> teller = vat.make<Teller>();
  Ref<Ledger> alice = host->object<Ledger>("alice");
  EXPECT_EQ(wait(alice.send<&Ledger::deposit>(3)), 3);
  Promise<std::int64_t> p = alice.send<&Ledger::deposit_after>(teller);
  vat.run_until_idle();
  teller.call<&Teller::release>(-1);
  EXPECT_EQ(broken(p).reason, "the teller said no");
  EXPECT_EQ(wait(alice.send<&Ledger::balance>()), 3);
  EXPECT_EQ(host->stats().rolled_back, 1);
}

TEST_F(HostTest, ACallReadsItsOwnWritesAndScansMergeThem) {
  Ref<Ledger> alice = host->object<Ledger>("alice");
  EXPECT_EQ(wait(alice.send<&Ledger::apply>(std::vector<KvOp>{{"m/b", 2}, {"m/a", 1}}, false)),
            (std::vector<std::string>{"m/a", "m/b"}));
  // Erase a committed key and add one, in one call: the scan sees both.
  EXPECT_EQ(wait(alice.send<&Ledger::apply>(std::vector<KvOp>{{"m/a", std::nullopt}, {"m/c", 3}}, false)),
            (std::vector<std::string>{"m/b", "m/c"}));
  EXPECT_EQ(wait(alice.send<&Ledger::dump>()), (std::map<std::string, std::int64_t>{{"m/b", 2}, {"m/c", 3}}));
}

TEST_F(HostTest, AFailedCommitBreaksTheAnswerAndLosesTheWrites) {
  Ref<Ledger> alice = host->object<Ledger>("alice");
  EXPECT_EQ(wait(alice.send<&Ledger::deposit>(5)), 5);
  engine->fail_commits(1);
  Error e = broken(alice.send<&Ledger::deposit>(7));
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
  EXPECT_NE(e.reason.find("commit failed"), std::string::npos) << e.reason;
  EXPECT_NE(e.reason.find("retry is safe"), std::string::npos) << e.reason;
  // The activation restarted from the committed state.
  EXPECT_EQ(wait(alice.send<&Ledger::balance>()), 5);
  EXPECT_EQ(host->stats().commit_failures, 1);
  EXPECT_EQ(host->stats().activations, 2);
  EXPECT_EQ(Ledger::alive, 1);
}

TEST_F(HostTest, AtMostOneActivationPerObject) {
  Ref<Ledger> a = host->object<Ledger>("alice");
  Ref<Ledger> b = host->object<Ledger>("alice");
  EXPECT_TRUE(a == b);
  for (int i = 0; i < 5; ++i) {
    a.send<&Ledger::deposit>(1);
    b.send<&Ledger::deposit>(1);
  }
  EXPECT_EQ(wait(a.send<&Ledger::balance>()), 10);
  EXPECT_EQ(Ledger::alive, 1);
  EXPECT_EQ(host->stats().activations, 1);
  EXPECT_TRUE(wait(a.send<&Ledger::me>()) == a);
}

TEST_F(HostTest, AnIdleObjectIsPassivatedAndTheNextMessageReactivatesIt) {
  Ref<Ledger> alice = host->object<Ledger>("alice");
  EXPECT_EQ(wait(alice.send<&Ledger::deposit>(5)), 5);
  clock.advance(5s);
  vat.run_until_idle();
  EXPECT_EQ(host->stats().passivations, 0);  // not idle long enough yet
  clock.advance(6s);
  vat.run_until_idle();
  EXPECT_EQ(host->stats().passivations, 1);
  EXPECT_EQ(host->stats().active, 0);
  EXPECT_EQ(Ledger::alive, 0);
  EXPECT_EQ(wait(alice.send<&Ledger::deposit>(1)), 6);
  EXPECT_EQ(host->stats().activations, 2);
  EXPECT_EQ(engine->epoch("ledger/alice"), 2);
}

TEST_F(HostTest, AnObjectWithACallInProgressIsNotPassivated) {
  Ref<Teller> teller = vat.make<Teller>();
  Ref<Ledger> alice = host->object<Ledger>("alice");
  Promise<std::int64_t> p = alice.send<&Ledger::deposit_after>(teller);
  vat.run_until_idle();
  clock.advance(60s);
  vat.run_until_idle();
  EXPECT_EQ(host->stats().passivations, 0);
  teller.call<&Teller::release>(2);
  EXPECT_EQ(wait(p), 3);
  clock.advance(11s);
  vat.run_until_idle();
  EXPECT_EQ(host->stats().passivations, 1);
}

TEST_F(HostTest, FreshObjectsGetDistinctRandomKeys) {
  std::string a = wait(host->create<Ledger>().send<&Ledger::id>());
  std::string b = wait(host->create<Ledger>().send<&Ledger::id>());
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), std::string("ledger/").size() + 32);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 7), std::string::npos);
}

TEST_F(HostTest, WritesOutsideACallAreRefused) {
  Error e = broken(host->object<WritesOnActivate>("x").send<&WritesOnActivate::ping>());
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_NE(e.reason.find("belong to a call"), std::string::npos) << e.reason;
  EXPECT_EQ(host->stats().active, 0);
}

TEST_F(HostTest, BadKeysAndUnregisteredKindsAreRefused) {
  EXPECT_THROW(host->object<Ledger>(""), VatError);
  EXPECT_THROW(host->object<Ledger>(std::string(257, 'k')), VatError);
  EXPECT_THROW(host->object<Ledger>(std::string("a\0b", 3)), VatError);
  EXPECT_THROW(host->object<Teller>("x"), VatError);
  EXPECT_THROW(host->register_kind<Ledger>({.name = "ledger2"}), VatError);
}

TEST_F(HostTest, MessagesAfterTheHostClosedBreakAsDisconnected) {
  Ref<Ledger> alice = host->object<Ledger>("alice");
  EXPECT_EQ(wait(alice.send<&Ledger::deposit>(5)), 5);
  host.reset();
  EXPECT_EQ(Ledger::alive, 0);
  EXPECT_EQ(broken(alice.send<&Ledger::balance>()).kind, ErrorKind::disconnected);
}

TEST_F(HostTest, ACallStillRunningWhenTheHostClosesBreaksAndCommitsNothing) {
  Ref<Teller> teller = vat.make<Teller>();
  Ref<Ledger> alice = host->object<Ledger>("alice");
  Promise<std::int64_t> p = alice.send<&Ledger::deposit_after>(teller);
  vat.run_until_idle();
  host.reset();
  Error e = broken(p);
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
  EXPECT_NE(e.reason.find("host closed"), std::string::npos) << e.reason;
  teller.call<&Teller::release>(5);  // the Task finishes; nothing reaches the store
  vat.run_until_idle();
  EXPECT_FALSE(engine->get("ledger/alice", "balance"));
}

// spec/persistence.md 5.1, "Fresh objects": create() asks the store nothing
// until the object's first commit, which makes it at epoch 1.
TEST_F(HostTest, AFreshObjectIsMadeByItsFirstCommitAtEpochOne) {
  Ref<Ledger> fresh = host->create<Ledger>();
  std::string id = wait(fresh.send<&Ledger::id>());
  EXPECT_FALSE(engine->stored(id));  // a read-only call: nothing to commit, nothing stored
  EXPECT_EQ(engine->epoch(id), 0);
  EXPECT_EQ(wait(fresh.send<&Ledger::deposit>(4)), 4);
  std::optional<StoredObject> st = engine->stored(id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->kind, "ledger");
  EXPECT_EQ(st->version, 1);
  EXPECT_EQ(engine->epoch(id), 1);
  // Passivated and reactivated: the store's activation continues from it.
  clock.advance(11s);
  vat.run_until_idle();
  EXPECT_EQ(host->stats().passivations, 1);
  EXPECT_EQ(wait(fresh.send<&Ledger::deposit>(1)), 5);
  EXPECT_EQ(engine->epoch(id), 2);
}

TEST_F(HostTest, AFreshObjectPassivatedBeforeAnyWriteIsMadeByItsNextActivation) {
  Ref<Ledger> fresh = host->create<Ledger>();
  std::string id = wait(fresh.send<&Ledger::id>());
  clock.advance(11s);
  vat.run_until_idle();
  EXPECT_EQ(host->stats().passivations, 1);
  EXPECT_FALSE(engine->stored(id));
  EXPECT_EQ(wait(fresh.send<&Ledger::deposit>(2)), 2);  // an ordinary activation now
  EXPECT_EQ(engine->epoch(id), 1);
  EXPECT_TRUE(engine->stored(id));
}

TEST_F(HostTest, AFreshObjectMadeMeanwhileByAnotherHostFencesTheFirstCommit) {
  // The id leaked (say, through a sturdy ref) and another host activated it
  // before the creator's first commit: that activation wins, and the
  // creator's answer breaks as superseded, safe to retry.
  auto other = make_host(engine, "h2");
  Ref<Ledger> mine = host->create<Ledger>();
  std::string id = wait(mine.send<&Ledger::id>());
  Ref<Ledger> theirs = other->object<Ledger>(id.substr(std::string("ledger/").size()));
  EXPECT_EQ(wait(theirs.send<&Ledger::deposit>(7)), 7);
  Error e = broken(mine.send<&Ledger::deposit>(1));
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
  EXPECT_NE(e.reason.find("superseded"), std::string::npos) << e.reason;
  EXPECT_EQ(host->stats().fenced, 1);
  EXPECT_EQ(wait(theirs.send<&Ledger::balance>()), 7);
  EXPECT_EQ(engine->epoch(id), 1);  // the creator's fenced attempt left the store as it was
}

TEST_F(HostTest, AStaleActivationIsFencedOutAndANewOneResumesFromCommittedState) {
  // Two hosts on one store, each believing it holds alice: the newer
  // activation's epoch fences the older one's writes (spec/persistence.md 4).
  auto other = make_host(engine, "h2");
  Ref<Ledger> a1 = host->object<Ledger>("alice");
  Ref<Ledger> a2 = other->object<Ledger>("alice");
  EXPECT_EQ(wait(a1.send<&Ledger::deposit>(5)), 5);
  EXPECT_EQ(wait(a2.send<&Ledger::deposit>(7)), 12);  // epoch 2 takes over
  Error e = broken(a1.send<&Ledger::deposit>(1));
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
  EXPECT_NE(e.reason.find("superseded"), std::string::npos) << e.reason;
  EXPECT_EQ(host->stats().fenced, 1);
  // The next message re-activates it in the first host, from what is committed.
  EXPECT_EQ(wait(a1.send<&Ledger::deposit>(1)), 13);
  EXPECT_EQ(broken(a2.send<&Ledger::deposit>(1)).kind, ErrorKind::disconnected);
  EXPECT_EQ(engine->epoch("ledger/alice"), 3);
}

TEST(PersistSqlite, AReopenedStoreHasTheCommittedStateAndNothingElse) {
  vatic::test::TempDir dir("vatic-persist");
  Vat vat;
  {
    std::shared_ptr<Engine> e = SqliteEngine::open(dir / "objects.db");
    Host host(vat, e);
    host.register_kind<Ledger>({.name = "ledger"});
    Ref<Ledger> alice = host.object<Ledger>("alice");
    EXPECT_EQ(vat.wait(alice.send<&Ledger::deposit>(5)), 5);
    EXPECT_EQ(vat.wait(alice.send<&Ledger::deposit>(6)), 11);
    Promise<std::int64_t> failed = alice.send<&Ledger::deposit_then_fail>(100);
    vat.run_until_idle();
    EXPECT_TRUE(failed.is_broken());
  }
  std::shared_ptr<Engine> e = SqliteEngine::open(dir / "objects.db");
  Host host(vat, e);
  host.register_kind<Ledger>({.name = "ledger"});
  Ref<Ledger> alice = host.object<Ledger>("alice");
  EXPECT_EQ(vat.wait(alice.send<&Ledger::balance>()), 11);
  EXPECT_EQ(vat.wait(alice.send<&Ledger::log>()), (std::vector<std::int64_t>{5, 6}));
  EXPECT_EQ(e->epoch("ledger/alice"), 2);
}

TEST(PersistSqlite, FreshObjectsAreMadeByTheGroupCommitAndSurviveAReopen) {
  vatic::test::TempDir dir("vatic-persist");
  Vat vat;
  std::vector<std::string> ids;
  {
    std::shared_ptr<Engine> e = SqliteEngine::open(dir / "objects.db");
    Host host(vat, e);
    host.register_kind<Ledger>({.name = "ledger"});
    std::vector<Promise<std::int64_t>> answers;
    std::vector<Ref<Ledger>> refs;
    for (int i = 0; i < 50; ++i) {
      refs.push_back(host.create<Ledger>());
      answers.push_back(refs.back().send<&Ledger::deposit>(i + 1));
    }
    vat.run_until_idle();
    for (int i = 0; i < 50; ++i) EXPECT_EQ(answers[static_cast<std::size_t>(i)].value(), i + 1);
    EXPECT_EQ(host.stats().commits, 1);  // fifty objects made in one transaction
    for (auto& r : refs) ids.push_back(vat.wait(r.send<&Ledger::id>()));
  }
  std::shared_ptr<Engine> e = SqliteEngine::open(dir / "objects.db");
  Host host(vat, e);
  host.register_kind<Ledger>({.name = "ledger"});
  for (int i = 0; i < 50; ++i) {
    const std::string& id = ids[static_cast<std::size_t>(i)];
    EXPECT_EQ(e->epoch(id), 1);
    EXPECT_EQ(vat.wait(host.object<Ledger>(id.substr(7)).send<&Ledger::balance>()), i + 1);
  }
}

TEST(PersistSqlite, TwoConnectionsToOneFileFenceEachOther) {
  vatic::test::TempDir dir("vatic-persist");
  Vat vat;
  std::shared_ptr<Engine> e1 = SqliteEngine::open(dir / "objects.db");
  std::shared_ptr<Engine> e2 = SqliteEngine::open(dir / "objects.db");
  Host h1(vat, e1, {.name = "one"});
  Host h2(vat, e2, {.name = "two"});
  h1.register_kind<Ledger>({.name = "ledger"});
  h2.register_kind<Ledger>({.name = "ledger"});
  EXPECT_EQ(vat.wait(h1.object<Ledger>("bob").send<&Ledger::deposit>(2)), 2);
  EXPECT_EQ(vat.wait(h2.object<Ledger>("bob").send<&Ledger::deposit>(3)), 5);
  Promise<std::int64_t> stale = h1.object<Ledger>("bob").send<&Ledger::deposit>(4);
  vat.run_until_idle();
  ASSERT_TRUE(stale.is_broken());
  EXPECT_NE(stale.error().reason.find("superseded"), std::string::npos);
  EXPECT_EQ(vat.wait(h2.object<Ledger>("bob").send<&Ledger::balance>()), 5);
}

}  // namespace
}  // namespace vatic::persist::test
