// Upgrades (spec/persistence.md 6): lazy migration over several versions, a
// failed migration that leaves the stored object untouched, rollback to the
// pre-image after repeated failures of the new version, and calls in flight
// at an upgrade breaking with "upgraded; retry is safe".
#include "persist/migration.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "persist/memory_engine.h"
#include "persist/stored_value.h"
#include "upgrade_objects.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

class MigrationTest : public ::testing::Test {
 protected:
  MigrationTest() {
    UpgradeFaults::reset();
    vat.set_log_sink([this](const LogEvent& e) { events.push_back(e); }, LogLevel::info);
  }
  ~MigrationTest() override { UpgradeFaults::reset(); }

  std::unique_ptr<Host> make_host() {
    return std::make_unique<Host>(vat, engine, HostOptions{.name = "h", .idle = 10s});
  }
  static KindSpec v1() { return {.name = "account", .version = 1}; }
  static KindSpec v2(int intensity = 3) {
    return {.name = "account", .version = 2, .migrate = migrate_account, .intensity = intensity, .period = 5s};
  }
  static KindSpec v3() { return {.name = "account", .version = 3, .migrate = migrate_account}; }

  // Deposits `units` into each account with version 1 code, in a host of its own.
  void seed(std::initializer_list<std::pair<const char*, std::int64_t>> accounts) {
    auto h = make_host();
    h->register_kind<AccountV1>(v1());
    for (auto [key, units] : accounts)
      EXPECT_EQ(vat.wait(h->object<AccountV1>(key).send<&AccountV1::deposit>(units)), units);
  }
  std::optional<std::int64_t> stored_int(const std::string& id, std::string_view key) {
    auto b = engine->get(id, key);
    if (!b) return std::nullopt;
    return decode_stored(*b).value().as_int();
  }
  const LogEvent* event(std::string_view name) const {
    for (const auto& e : events)
      if (e.event == name) return &e;
    return nullptr;
  }

  ManualClock clock;
  Vat vat{VatOptions{.name = "persist", .clock = &clock}};
  std::shared_ptr<MemoryEngine> engine = std::make_shared<MemoryEngine>();
  std::vector<LogEvent> events;
};

TEST_F(MigrationTest, AnObjectIsMigratedLazilyThroughEveryVersionOnItsActivation) {
  seed({{"alice", 5}, {"bob", 7}});
  auto host = make_host();
  host->register_kind<AccountV3>(v3());
  // Registering migrates nothing: the store still holds version 1.
  EXPECT_EQ(engine->stored("account/alice")->version, 1);
  Ref<AccountV3> alice = host->object<AccountV3>("alice");
  EXPECT_EQ(vat.wait(alice.send<&AccountV3::cents>()), 500);       // 1 -> 2
  EXPECT_EQ(vat.wait(alice.send<&AccountV3::currency>()), "EUR");  // 2 -> 3
  EXPECT_EQ(vat.wait(alice.send<&AccountV3::version>()), 3);
  StoredObject st = *engine->stored("account/alice");
  EXPECT_EQ(st.version, 3);
  EXPECT_EQ(st.preimage_from, 1);
  EXPECT_FALSE(engine->get("account/alice", "balance"));
  // bob was not activated: still version 1, untouched.
  EXPECT_EQ(engine->stored("account/bob")->version, 1);
  EXPECT_EQ(stored_int("account/bob", "balance"), 7);
  EXPECT_EQ(host->stats().migrations, 1);
  const LogEvent* e = event("persist.migrated");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(*e->field("from"), "1");
  EXPECT_EQ(*e->field("to"), "3");
}

TEST_F(MigrationTest, AnObjectCreatedByTheNewVersionNeedsNoMigration) {
  auto host = make_host();
  host->register_kind<AccountV2>(v2());
  EXPECT_EQ(vat.wait(host->object<AccountV2>("carol").send<&AccountV2::deposit_cents>(3)), 3);
  EXPECT_EQ(engine->stored("account/carol")->version, 2);
  EXPECT_FALSE(engine->stored("account/carol")->preimage_from);
  EXPECT_EQ(host->stats().migrations, 0);
}

TEST_F(MigrationTest, AFailedMigrationLeavesTheStoredObjectUntouched) {
  seed({{"alice", 5}});
  auto host = make_host();
  host->register_kind<AccountV3>(v3());
  UpgradeFaults::migrate_fails = true;  // the 1 -> 2 step writes "cents", then throws
  Promise<std::int64_t> p = host->object<AccountV3>("alice").send<&AccountV3::cents>();
  vat.run_until_idle();
  ASSERT_TRUE(p.is_broken());
  EXPECT_EQ(p.error().kind, ErrorKind::failed);
  EXPECT_NE(p.error().reason.find("migrating from version 1 to 2 failed: the migration refuses this object"),
            std::string::npos)
      << p.error().reason;
  StoredObject st = *engine->stored("account/alice");
  EXPECT_EQ(st.version, 1);
  EXPECT_FALSE(st.preimage_from);
  EXPECT_EQ(stored_int("account/alice", "balance"), 5);
  EXPECT_FALSE(engine->get("account/alice", "cents"));
  EXPECT_EQ(host->stats().failed_activations, 1);
  // The next activation tries again, and succeeds once the step does.
  UpgradeFaults::migrate_fails = false;
  EXPECT_EQ(vat.wait(host->object<AccountV3>("alice").send<&AccountV3::cents>()), 500);
}

TEST_F(MigrationTest, AnOlderObjectWithoutAMigrateStepIsRefusedNamingBothVersions) {
  seed({{"alice", 5}});
  auto host = make_host();
  host->register_kind<AccountV2>({.name = "account", .version = 2});
  Promise<std::int64_t> p = host->object<AccountV2>("alice").send<&AccountV2::cents>();
  vat.run_until_idle();
  ASSERT_TRUE(p.is_broken());
  EXPECT_NE(p.error().reason.find("stored by version 1 of kind account; version 2 has no migrate step"),
            std::string::npos)
      << p.error().reason;
  EXPECT_EQ(engine->stored("account/alice")->version, 1);
}

TEST_F(MigrationTest, RepeatedFailuresOfTheNewVersionRollItsObjectsBackToThePreImageAndTheOldCode) {
  seed({{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}});
  auto host = make_host();
  host->register_kind<AccountV1>(v1());  // the old code stays registered beside the new
  host->register_kind<AccountV2>(v2(/*intensity=*/2));
  // Version 2 works for a, which writes under it.
  Ref<AccountV2> a = host->object<AccountV2>("a");
  EXPECT_EQ(vat.wait(a.send<&AccountV2::deposit_cents>(50)), 150);
  // Then it fails to start: b, c and d are migrated (committed) but their
  // activations fail; the third failure is more than the intensity of 2.
  UpgradeFaults::v2_start_fails = true;
  for (const char* k : {"b", "c", "d"}) {
    Promise<std::int64_t> p = host->object<AccountV2>(k).send<&AccountV2::cents>();
    vat.run_until_idle();
    ASSERT_TRUE(p.is_broken()) << k;
    EXPECT_EQ(p.error().reason, "v2 cannot start");
  }
  // The rollback ran in a turn of its own: every migrated object is back at
  // version 1 with its pre-image, the one active under version 2 included.
  for (auto [k, units] : {std::pair{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}) {
    std::string id = std::string("account/") + k;
    StoredObject st = *engine->stored(id);
    EXPECT_EQ(st.version, 1) << id;
    EXPECT_FALSE(st.preimage_from) << id;
    EXPECT_EQ(stored_int(id, "balance"), units) << id;
    EXPECT_FALSE(engine->get(id, "cents")) << id;
  }
  EXPECT_EQ(host->stats().rollbacks, 4);
  // What was lost is logged: a's cents, written by version 2 after its migration.
  bool logged_a = false;
  for (const auto& e : events)
    if (e.event == "persist.rolled_back" && *e.field("object") == "account/a") {
      logged_a = true;
      EXPECT_EQ(*e.field("lost"), "cents");
      EXPECT_EQ(*e.field("to"), "1");
    }
  EXPECT_TRUE(logged_a);
  ASSERT_NE(event("persist.withdrawn"), nullptr);
  // The old code serves them now, through the same references.
  EXPECT_EQ(vat.wait(a.send<&AccountV2::version>()), 1);
  EXPECT_EQ(vat.wait(host->object<AccountV1>("b").send<&AccountV1::deposit>(10)), 12);
  // And stays: new objects are made by version 1 too.
  EXPECT_EQ(vat.wait(host->object<AccountV1>("e").send<&AccountV1::version>()), 1);
  EXPECT_EQ(engine->stored("account/e")->version, 1);
}

TEST_F(MigrationTest, AnObjectMigratedByAnotherHostToAWithdrawnVersionIsRolledBackOnActivation) {
  seed({{"a", 1}, {"b", 2}, {"x", 7}});
  auto host = make_host();
  host->register_kind<AccountV1>(v1());
  host->register_kind<AccountV2>(v2(/*intensity=*/1));
  UpgradeFaults::v2_start_fails = true;
  for (const char* k : {"a", "b"}) {
    Promise<std::int64_t> p = host->object<AccountV2>(k).send<&AccountV2::cents>();
    vat.run_until_idle();
    ASSERT_TRUE(p.is_broken());
  }
  ASSERT_NE(event("persist.withdrawn"), nullptr);
  UpgradeFaults::v2_start_fails = false;
  // Another host on the same store still runs version 2 and migrates x.
  {
    Host other(vat, engine, HostOptions{.name = "other"});
    other.register_kind<AccountV2>(v2());
    EXPECT_EQ(vat.wait(other.object<AccountV2>("x").send<&AccountV2::cents>()), 700);
  }
  ASSERT_EQ(engine->stored("account/x")->version, 2);
  // This host withdrew version 2: x goes back to its pre-image first.
  EXPECT_EQ(vat.wait(host->object<AccountV1>("x").send<&AccountV1::balance>()), 7);
  EXPECT_EQ(engine->stored("account/x")->version, 1);
  EXPECT_FALSE(engine->get("account/x", "cents"));
}

TEST_F(MigrationTest, FailuresSpreadOverMoreThanThePeriodDoNotRollBack) {
  seed({{"a", 1}, {"b", 2}, {"c", 3}});
  auto host = make_host();
  host->register_kind<AccountV1>(v1());
  host->register_kind<AccountV2>(v2(/*intensity=*/2));
  UpgradeFaults::v2_start_fails = true;
  for (const char* k : {"a", "b", "c"}) {
    clock.advance(3s);  // three failures, never more than two within 5 s
    Promise<std::int64_t> p = host->object<AccountV2>(k).send<&AccountV2::cents>();
    vat.run_until_idle();
    EXPECT_TRUE(p.is_broken());
  }
  EXPECT_EQ(host->stats().rollbacks, 0);
  EXPECT_EQ(engine->stored("account/c")->version, 2);
  EXPECT_EQ(event("persist.withdrawn"), nullptr);
}

TEST_F(MigrationTest, CallsInFlightAtAnUpgradeBreakWithRetryIsSafeAndTheirWritesAreDiscarded) {
  seed({{"alice", 5}});
  auto host = make_host();
  host->register_kind<AccountV1>(v1());
  Ref<AccountV1> alice = host->object<AccountV1>("alice");
  Ref<Teller> teller = vat.make<Teller>();
  Promise<std::int64_t> waiting = alice.send<&AccountV1::deposit_after>(teller);
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::deposit>(2)), 7);  // answered and committed
  vat.run_until_idle();
  ASSERT_TRUE(waiting.pending());
  host->register_kind<AccountV2>(v2());  // the upgrade, in the running host
  vat.run_until_idle();
  ASSERT_TRUE(waiting.is_broken());
  EXPECT_EQ(waiting.error().kind, ErrorKind::disconnected);
  EXPECT_NE(waiting.error().reason.find("upgraded to version 2; retry is safe"), std::string::npos)
      << waiting.error().reason;
  teller.call<&Teller::release>(1);  // the old call finishes late: nothing of it commits
  vat.run_until_idle();
  // The next message reaches the new code, migrated from the committed state.
  Ref<AccountV2> upgraded = host->object<AccountV2>("alice");  // the same slot, typed for the new code
  EXPECT_EQ(vat.wait(upgraded.send<&AccountV2::version>()), 2);
  EXPECT_EQ(vat.wait(upgraded.send<&AccountV2::cents>()), 700);
  // A reference typed for the old code still reaches the object: its typed
  // sends go by name to the class now running (never cast to the old class),
  // and a method the new code dropped is unimplemented.
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::version>()), 2);
  Promise<std::int64_t> dropped = alice.send<&AccountV1::deposit>(1);
  vat.run_until_idle();
  ASSERT_TRUE(dropped.is_broken());
  EXPECT_EQ(dropped.error().kind, ErrorKind::unimplemented) << dropped.error().reason;
}

TEST(Migration, ReadsSeeTheStepsWritesOverTheCommittedStateAndKeepThePreImage) {
  MemoryEngine engine;
  ASSERT_TRUE(engine.activate("k/a", "k", 1, "h"));
  std::vector<ObjectWrites> batch{
      {"k/a", 1, {{"x", encode_stored(Value(std::int64_t{1}))}, {"y", encode_stored(Value(std::int64_t{2}))}}}};
  ASSERT_TRUE(engine.commit(batch).fenced.empty());
  Migration txn(engine, "k/a", 1);
  txn.put("x", std::int64_t{10});
  txn.put("x", std::int64_t{11});
  txn.erase("y");
  txn.put("z", std::string("new"));
  EXPECT_EQ(txn.get<std::int64_t>("x"), 11);
  EXPECT_FALSE(txn.get_value("y"));
  auto all = txn.scan_values("");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, "x");
  EXPECT_EQ(all[1].first, "z");
  EXPECT_THROW(txn.get<std::string>("x"), VatError);          // a type mismatch names the key
  EXPECT_THROW(txn.put("r", Value(Capability{})), VatError);  // not a stored value
  MigrationWrites m = txn.take(1, 1, 2);
  ASSERT_EQ(m.preimage.size(), 3u);  // the committed values, not the steps' own
  EXPECT_EQ(m.preimage[0], (std::pair<std::string, std::optional<Bytes>>{"x", encode_stored(Value(std::int64_t{1}))}));
  EXPECT_EQ(m.preimage[1].first, "y");
  EXPECT_EQ(m.preimage[2], (std::pair<std::string, std::optional<Bytes>>{"z", std::nullopt}));
  ASSERT_EQ(m.writes.size(), 3u);
  EXPECT_EQ(m.writes[1], (std::pair<std::string, std::optional<Bytes>>{"y", std::nullopt}));
}

}  // namespace
}  // namespace vatic::persist::test
