#include "persist/engine.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "persist/memory_engine.h"
#include "persist/sqlite_engine.h"
#include "temp_dir.h"

namespace vatic::persist {
namespace {

// Every engine gives the same answers (spec/persistence.md 5).
class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  EngineTest() : dir_("vatic-engine") {
    if (GetParam() == "memory")
      e = std::make_shared<MemoryEngine>();
    else
      e = SqliteEngine::open(dir_ / "objects.db");
  }
  static Bytes b(std::string_view s) { return Bytes(s.begin(), s.end()); }
  CommitReport put(const std::string& id, std::int64_t epoch, std::string k, std::optional<Bytes> v) {
    ObjectWrites w{id, epoch, {}};
    w.writes.emplace_back(std::move(k), std::move(v));
    return e->commit(std::span(&w, 1));
  }

  vatic::test::TempDir dir_;
  std::shared_ptr<Engine> e;
};

TEST_P(EngineTest, ActivationCreatesTheObjectAndEpochsOnlyRise) {
  Result<Grant> g1 = e->activate("k/a", "k", 1, "h1");
  ASSERT_TRUE(g1) << g1.error();
  EXPECT_TRUE(g1->created);
  EXPECT_EQ(g1->epoch, 1);
  e->deactivate("k/a", 1);
  Result<Grant> g2 = e->activate("k/a", "k", 1, "h2");
  ASSERT_TRUE(g2);
  EXPECT_FALSE(g2->created);
  EXPECT_EQ(g2->epoch, 2);  // not reset by the deactivation
  e->deactivate("k/a", 1);  // a stale deactivation changes nothing
  EXPECT_EQ(e->epoch("k/a"), 2);
  EXPECT_EQ(e->epoch("k/none"), 0);
}

// spec/persistence.md 5.1, "Fresh objects": a commit that creates its object
// makes it at epoch 1 with its writes, and is fenced if the id exists.
TEST_P(EngineTest, ACreatingCommitMakesTheObjectOnlyIfItIsAbsent) {
  ObjectWrites w{"k/fresh", 1, {{"x", b("1")}}, {}, Creation{"k", 3, "h1"}};
  EXPECT_TRUE(e->commit(std::span(&w, 1)).fenced.empty());
  EXPECT_EQ(e->epoch("k/fresh"), 1);
  EXPECT_EQ(e->get("k/fresh", "x"), b("1"));
  ASSERT_TRUE(e->stored("k/fresh"));
  EXPECT_EQ(e->stored("k/fresh")->kind, "k");
  EXPECT_EQ(e->stored("k/fresh")->version, 3);
  // The same again (another host's fresh object under the same id, or a
  // replayed batch): refused, and nothing of it is written.
  ObjectWrites again{"k/fresh", 1, {{"x", b("2")}}, {}, Creation{"k", 3, "h2"}};
  EXPECT_EQ(e->commit(std::span(&again, 1)).fenced, std::vector<std::string>{"k/fresh"});
  EXPECT_EQ(e->get("k/fresh", "x"), b("1"));
  EXPECT_EQ(e->epoch("k/fresh"), 1);
  // An object activated the ordinary way fences a creating commit too.
  ASSERT_TRUE(e->activate("k/taken", "k", 1, "h1"));
  ObjectWrites late{"k/taken", 1, {{"x", b("3")}}, {}, Creation{"k", 1, "h2"}};
  EXPECT_EQ(e->commit(std::span(&late, 1)).fenced, std::vector<std::string>{"k/taken"});
  EXPECT_FALSE(e->get("k/taken", "x"));
}

TEST_P(EngineTest, AnotherKindOrANewerVersionIsRefusedWithoutBumpingTheEpoch) {
  ASSERT_TRUE(e->activate("k/a", "k", 2, "h"));
  EXPECT_NE(e->activate("k/a", "other", 2, "h").error().find("is a k, not a other"), std::string::npos);
  EXPECT_NE(e->activate("k/a", "k", 1, "h").error().find("stored by version 2"), std::string::npos);
  EXPECT_EQ(e->epoch("k/a"), 1);
}

TEST_P(EngineTest, AnOlderStoredVersionIsGrantedAndReportedForMigration) {
  Result<Grant> g1 = e->activate("k/a", "k", 2, "h");
  ASSERT_TRUE(g1);
  EXPECT_EQ(g1->version, 2);  // created at the version asked for
  Result<Grant> g2 = e->activate("k/a", "k", 3, "h");
  ASSERT_TRUE(g2);
  EXPECT_EQ(g2->version, 2);  // spec/persistence.md 6: the host migrates it
  EXPECT_EQ(e->stored("k/a")->version, 2);
}

TEST_P(EngineTest, AMigrationStoresItsWritesThePreImageAndTheVersionAndARollbackRestoresThem) {
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h"));
  put("k/a", 1, "x", b("old x"));
  put("k/a", 1, "keep", b("kept"));
  Result<Grant> g = e->activate("k/a", "k", 2, "h");
  ASSERT_TRUE(g);
  MigrationWrites m{"k/a", g->epoch, 1, 2, {{"x", b("new x")}, {"y", b("new y")}}, {{"x", b("old x")}, {"y", {}}}};
  ASSERT_TRUE(e->migrate(m));
  EXPECT_EQ(e->get("k/a", "x"), b("new x"));
  EXPECT_EQ(e->get("k/a", "y"), b("new y"));
  StoredObject st = *e->stored("k/a");
  EXPECT_EQ(st.version, 2);
  EXPECT_EQ(st.preimage_from, 1);
  EXPECT_EQ(e->migrated("k", 2), std::vector<std::string>{"k/a"});
  EXPECT_TRUE(e->migrated("k", 1).empty());
  // Version 2 writes on; then it is rolled back.
  put("k/a", g->epoch, "y", b("y by v2"));
  std::int64_t epoch = e->epoch("k/a");
  std::optional<RolledBack> r = e->rollback("k/a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->lost, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(e->get("k/a", "x"), b("old x"));
  EXPECT_FALSE(e->get("k/a", "y"));
  EXPECT_EQ(e->get("k/a", "keep"), b("kept"));  // the migration did not touch it
  st = *e->stored("k/a");
  EXPECT_EQ(st.version, 1);
  EXPECT_FALSE(st.preimage_from);
  // The rollback fences the activation of version 2 out.
  EXPECT_GT(e->epoch("k/a"), epoch);
  EXPECT_EQ(put("k/a", g->epoch, "z", b("late")).fenced, std::vector<std::string>{"k/a"});
  EXPECT_FALSE(e->rollback("k/a"));  // no pre-image left
}

TEST_P(EngineTest, AMigrationIsRefusedByItsFenceOrAnotherStoredVersion) {
  Result<Grant> g1 = e->activate("k/a", "k", 1, "h");
  ASSERT_TRUE(g1);
  ASSERT_TRUE(e->activate("k/a", "k", 2, "h2"));  // fences g1 out
  MigrationWrites stale{"k/a", g1->epoch, 1, 2, {{"x", b("x")}}, {{"x", {}}}};
  EXPECT_FALSE(e->migrate(stale));
  MigrationWrites wrong_from{"k/a", e->epoch("k/a"), 3, 4, {{"x", b("x")}}, {{"x", {}}}};
  EXPECT_FALSE(e->migrate(wrong_from));
  EXPECT_FALSE(e->get("k/a", "x"));
  EXPECT_EQ(e->stored("k/a")->version, 1);
  EXPECT_FALSE(e->stored("k/a")->preimage_from);
}

TEST_P(EngineTest, CommitAppliesWritesAndErases) {
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h"));
  EXPECT_TRUE(put("k/a", 1, "x", b("1")).fenced.empty());
  EXPECT_EQ(e->get("k/a", "x"), b("1"));
  put("k/a", 1, "x", std::nullopt);
  EXPECT_FALSE(e->get("k/a", "x"));
  EXPECT_FALSE(e->get("k/other", "x"));
}

TEST_P(EngineTest, AStaleFenceRefusesOnlyItsObjectsWrites) {
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h1"));
  ASSERT_TRUE(e->activate("k/b", "k", 1, "h1"));
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h2"));  // a newer activation of a
  std::vector<ObjectWrites> batch{{"k/a", 1, {{"x", b("stale")}}}, {"k/b", 1, {{"x", b("fine")}}}};
  CommitReport r = e->commit(batch);
  EXPECT_EQ(r.fenced, std::vector<std::string>{"k/a"});
  EXPECT_FALSE(e->get("k/a", "x"));
  EXPECT_EQ(e->get("k/b", "x"), b("fine"));
  EXPECT_TRUE(put("k/a", 2, "x", b("new")).fenced.empty());
  // An object never activated has no epoch a writer could hold.
  EXPECT_EQ(put("k/ghost", 0, "x", b("1")).fenced, std::vector<std::string>{"k/ghost"});
}

TEST_P(EngineTest, ScanReturnsThePrefixInBytewiseOrder) {
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h"));
  ASSERT_TRUE(e->activate("k/b", "k", 1, "h"));
  std::vector<ObjectWrites> batch{
      {"k/a", 1, {{"p/2", b("2")}, {"p/1", b("1")}, {"p\xff", b("ff")}, {"q", b("q")}, {"p", b("p")}}},
      {"k/b", 1, {{"p/1", b("other object")}}}};
  ASSERT_TRUE(e->commit(batch).fenced.empty());
  auto keys = [&](std::string_view prefix) {
    std::vector<std::string> out;
    for (auto& [k, v] : e->scan("k/a", prefix)) out.push_back(k);
    return out;
  };
  EXPECT_EQ(keys("p/"), (std::vector<std::string>{"p/1", "p/2"}));
  EXPECT_EQ(keys("p"), (std::vector<std::string>{"p", "p/1", "p/2", "p\xff"}));
  EXPECT_EQ(keys("p\xff"), (std::vector<std::string>{"p\xff"}));
  EXPECT_EQ(keys("").size(), 5u);
  EXPECT_EQ(e->scan("k/a", "p/1")[0].second, b("1"));
}

TEST_P(EngineTest, RemindersCommitWithTheirObjectAndAreListedByKind) {
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h"));
  ASSERT_TRUE(e->activate("kk/b", "kk", 1, "h"));
  std::vector<ObjectWrites> batch{{"k/a", 1, {}, {{"r1", ReminderTimes{100, 0}}, {"r2", ReminderTimes{200, 50}}}},
                                  {"kk/b", 1, {}, {{"r", ReminderTimes{300, 0}}}}};
  ASSERT_TRUE(e->commit(batch).fenced.empty());
  auto r = e->reminders("k");
  ASSERT_EQ(r.size(), 2u);  // not kk's
  EXPECT_EQ(r[0].id, "k/a");
  EXPECT_EQ(r[0].name, "r1");
  EXPECT_EQ(r[1].times, (ReminderTimes{200, 50}));
  std::vector<ObjectWrites> erase{{"k/a", 1, {}, {{"r1", std::nullopt}}}};
  ASSERT_TRUE(e->commit(erase).fenced.empty());
  EXPECT_EQ(e->reminders("k").size(), 1u);
  // A fenced object's reminders are refused with its writes.
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h2"));
  std::vector<ObjectWrites> stale{{"k/a", 1, {}, {{"r3", ReminderTimes{1, 0}}}}};
  EXPECT_EQ(e->commit(stale).fenced, std::vector<std::string>{"k/a"});
  EXPECT_EQ(e->reminders("k").size(), 1u);
}

TEST_P(EngineTest, AReminderIsClaimedByOneHostUntilItsLeaseEndsOrItsSettingIsCommittedAgain) {
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h"));
  std::vector<ObjectWrites> set{{"k/a", 1, {}, {{"r", ReminderTimes{100, 0}}}}};
  ASSERT_TRUE(e->commit(set).fenced.empty());
  Reminder r{"k/a", "r", {100, 0}};
  ReminderClaim a = e->claim_reminder(r, "A", 100, 130);
  EXPECT_TRUE(a.claimed);
  // B is refused while A's lease lasts, and told until when.
  ReminderClaim b = e->claim_reminder(r, "B", 110, 140);
  EXPECT_FALSE(b.claimed);
  EXPECT_EQ(b.stored, (ReminderTimes{100, 0}));
  EXPECT_EQ(b.held_until_ms, 130);
  EXPECT_TRUE(e->claim_reminder(r, "A", 120, 150).claimed);  // A renews its own
  EXPECT_FALSE(e->claim_reminder(r, "B", 149, 180).claimed);
  EXPECT_TRUE(e->claim_reminder(r, "B", 150, 180).claimed);  // A's lease ended
  // A setting other than the stored one is never claimed; the refusal names the stored one.
  ReminderClaim stale = e->claim_reminder({"k/a", "r", {50, 0}}, "C", 1000, 2000);
  EXPECT_FALSE(stale.claimed);
  EXPECT_EQ(stale.stored, (ReminderTimes{100, 0}));
  // Committing a setting (here the same one again) clears the claim.
  ASSERT_TRUE(e->commit(set).fenced.empty());
  EXPECT_TRUE(e->claim_reminder(r, "C", 160, 190).claimed);
  // A forgotten reminder: nothing to claim, nothing stored.
  std::vector<ObjectWrites> forget{{"k/a", 1, {}, {{"r", std::nullopt}}}};
  ASSERT_TRUE(e->commit(forget).fenced.empty());
  ReminderClaim gone = e->claim_reminder(r, "C", 170, 200);
  EXPECT_FALSE(gone.claimed);
  EXPECT_FALSE(gone.stored);
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineTest, ::testing::Values("memory", "sqlite"));

TEST(SqliteEngine, ReopeningSeesCommittedStateAndTheEpoch) {
  vatic::test::TempDir dir("vatic-engine");
  {
    auto e = SqliteEngine::open(dir / "objects.db");
    ASSERT_TRUE(e->activate("k/a", "k", 1, "h"));
    std::vector<ObjectWrites> batch{{"k/a", 1, {{"x", Bytes{1, 2}}}}};
    ASSERT_TRUE(e->commit(batch).fenced.empty());
  }
  auto e = SqliteEngine::open(dir / "objects.db");
  EXPECT_EQ(e->get("k/a", "x"), (Bytes{1, 2}));
  EXPECT_EQ(e->epoch("k/a"), 1);
}

// Runs `sql` on the file behind the engine's back; returns the first column
// of the last row, if any.
std::string raw_sql(const std::filesystem::path& file, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  std::string out;
  char* err = nullptr;
  sqlite3_exec(
      db, sql,
      [](void* o, int n, char** v, char**) {
        if (n > 0 && v[0]) *static_cast<std::string*>(o) = v[0];
        return 0;
      },
      &out, &err);
  EXPECT_EQ(err, nullptr) << err;
  sqlite3_free(err);
  sqlite3_close(db);
  return out;
}

TEST(SqliteEngine, AVersion2FileGainsTheRemindersPreImageAndClaimsAndKeepsItsState) {
  vatic::test::TempDir dir("vatic-engine");
  auto file = dir / "objects.db";
  {
    auto e = SqliteEngine::open(file);
    ASSERT_TRUE(e->activate("k/a", "k", 1, "h"));
    std::vector<ObjectWrites> batch{{"k/a", 1, {{"x", Bytes{1}}}, {{"r", ReminderTimes{100, 0}}}}};
    ASSERT_TRUE(e->commit(batch).fenced.empty());
  }
  // What a version 2 store looked like (spec/persistence.md 5).
  raw_sql(file,
          "DROP TABLE reminder_preimage; ALTER TABLE reminder DROP COLUMN claim_host; "
          "ALTER TABLE reminder DROP COLUMN claim_until; UPDATE persist_meta SET value = '2' WHERE key = 'schema';");
  auto e = SqliteEngine::open(file);
  EXPECT_EQ(raw_sql(file, "SELECT value FROM persist_meta WHERE key = 'schema'"), "4");
  EXPECT_EQ(e->get("k/a", "x"), (Bytes{1}));
  EXPECT_TRUE(e->claim_reminder({"k/a", "r", {100, 0}}, "h", 100, 200).claimed);
  Result<Grant> g = e->activate("k/a", "k", 2, "h");
  ASSERT_TRUE(g);
  MigrationWrites m{"k/a", g->epoch, 1, 2, {}, {}, {{"r", ReminderTimes{200, 0}}, {"s", ReminderTimes{300, 0}}}};
  ASSERT_TRUE(e->migrate(m));
  std::optional<RolledBack> r = e->rollback("k/a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lost_reminders, (std::vector<std::string>{"r", "s"}));
  auto left = e->reminders("k");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].times, (ReminderTimes{100, 0}));
}

TEST(SqliteEngine, AStoreOfANewerSchemaIsRefused) {
  vatic::test::TempDir dir("vatic-engine");
  auto file = dir / "objects.db";
  SqliteEngine::open(file);
  raw_sql(file, "UPDATE persist_meta SET value = '99' WHERE key = 'schema';");
  EXPECT_THROW(SqliteEngine::open(file), VatError);
}

TEST(SqliteEngine, TheStoreAndItsWalFilesAreReadableByTheOwnerOnly) {
  vatic::test::TempDir dir("vatic-engine");
  mode_t was = ::umask(022);  // a usual umask, which would leave 0644
  auto e = SqliteEngine::open(dir / "objects.db");
  ::umask(was);
  ASSERT_TRUE(e->activate("k/a", "k", 1, "h"));
  std::vector<ObjectWrites> batch{{"k/a", 1, {{"x", Bytes{1}}}}};
  ASSERT_TRUE(e->commit(batch).fenced.empty());
  for (const char* name : {"objects.db", "objects.db-wal", "objects.db-shm"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
}

TEST(SqliteEngine, AFileThatIsNotAStoreIsRefusedNamingIt) {
  vatic::test::TempDir dir("vatic-engine");
  {
    std::FILE* f = std::fopen((dir / "junk.db").c_str(), "w");
    std::fputs("this is not a database, just some text that is long enough to have a header", f);
    std::fclose(f);
  }
  try {
    SqliteEngine::open(dir / "junk.db");
    FAIL() << "opened a file that is not a database";
  } catch (const VatError& e) {
    EXPECT_NE(e.error().reason.find("junk.db"), std::string::npos) << e.error().reason;
  }
}

TEST(MemoryEngine, AnInjectedFailureCommitsNothing) {
  MemoryEngine e;
  ASSERT_TRUE(e.activate("k/a", "k", 1, "h"));
  e.fail_commits(1);
  std::vector<ObjectWrites> batch{{"k/a", 1, {{"x", Bytes{1}}}}};
  EXPECT_THROW(e.commit(batch), VatError);
  EXPECT_FALSE(e.get("k/a", "x"));
  EXPECT_TRUE(e.commit(batch).fenced.empty());
  EXPECT_TRUE(e.get("k/a", "x"));
  EXPECT_EQ(e.commits(), 1);
}

}  // namespace
}  // namespace vatic::persist
