// Kill -9 during migrations (spec/persistence.md 6: a migration commits in
// one transaction with the new version):
//
//   this test ── seeds 48 "big" objects at version 1 ──> objects.db
//       │
//       └─ fork/exec ──> persist_test_migrate_child ── activates each at version 2,
//              ^                   |                    migrating it (SQLite, WAL, FULL)
//              └─── "r3-17\n" ─────┘ one line per activation answered
//
// Twenty rounds: seed fresh objects, start the child, SIGKILL it after a
// random number of acknowledgements (sometimes none), then open the store and
// check every object of the round: either still version 1 with its 200 keys
// "k/NNNN" and no pre-image, or version 2 with 200 keys "v2/NNNN" (doubled),
// none of the old ones, and the pre-image of the old ones; never a mix. Every
// acknowledged object is at version 2.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <sstream>
#include <string>

#include "kill_child.h"
#include "persist/sqlite_engine.h"
#include "persist/stored_value.h"
#include "temp_dir.h"
#include "upgrade_objects.h"

namespace vatic::persist::test {
namespace {

constexpr int kObjects = 48;
constexpr int kKeys = 200;

void seed(const std::filesystem::path& db, const std::string& prefix) {
  Vat vat;
  Host host(vat, SqliteEngine::open(db), {.name = "seed"});
  host.register_kind<BigV1>({.name = "big", .version = 1});
  std::vector<Promise<std::int64_t>> filled;
  for (int i = 0; i < kObjects; ++i)
    filled.push_back(host.object<BigV1>(fmt::format("{}-{}", prefix, i)).send<&BigV1::fill>(kKeys));
  for (auto& p : filled) ASSERT_EQ(vat.wait(p), kKeys);
}

// Checks one object of the round; returns its stored version.
std::int64_t check_object(SqliteEngine& e, const std::string& id) {
  std::optional<StoredObject> st = e.stored(id);
  EXPECT_TRUE(st) << id;
  if (!st) return 0;
  auto old_keys = e.scan(id, "k/");
  auto new_keys = e.scan(id, "v2/");
  if (st->version == 1) {
    EXPECT_FALSE(st->preimage_from) << id;
    EXPECT_EQ(old_keys.size(), static_cast<std::size_t>(kKeys)) << id << ": version 1 lost keys";
    EXPECT_TRUE(new_keys.empty()) << id << ": version 1 with migrated keys (a half migration)";
  } else {
    EXPECT_EQ(st->version, 2) << id;
    EXPECT_EQ(st->preimage_from, 1) << id;
    EXPECT_TRUE(old_keys.empty()) << id << ": version 2 with old keys (a half migration)";
    EXPECT_EQ(new_keys.size(), static_cast<std::size_t>(kKeys)) << id << ": version 2 lost keys";
    for (std::size_t i = 0; i < new_keys.size(); ++i)
      EXPECT_EQ(decode_stored(new_keys[i].second).value().as_int(), 2 * static_cast<std::int64_t>(i)) << id;
  }
  return st->version;
}

TEST(PersistMigrationKill, AMigrationKilledWithSigkillLeavesTheOldOrTheNewVersionNeverAMix) {
  vatic::test::TempDir dir("vatic-migrate-kill");
  const std::filesystem::path db = dir / "objects.db";
  std::mt19937_64 rng(static_cast<std::uint64_t>(::testing::UnitTest::GetInstance()->random_seed()));
  int migrated = 0;
  int untouched = 0;
  for (int round = 0; round < 20; ++round) {
    std::string prefix = fmt::format("r{}", round);
    ASSERT_NO_FATAL_FAILURE(seed(db, prefix));
    int acks = rng() % 5 == 0 ? 0 : static_cast<int>(1 + rng() % (kObjects - 1));
    ChildRun r = run_and_kill({VATIC_PERSIST_MIGRATE_CHILD, db.string(), prefix, std::to_string(kObjects)}, acks);
    ASSERT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL)
        << "round " << round << ": the child ended by " << vatic::test::describe_wait_status(r.status)
        << " before it was killed";
    std::set<std::string> acked;
    std::istringstream in(r.output);
    for (std::string key; in >> key;) acked.insert("big/" + key);
    auto e = SqliteEngine::open(db);
    for (int i = 0; i < kObjects; ++i) {
      std::string id = fmt::format("big/{}-{}", prefix, i);
      std::int64_t v = check_object(*e, id);
      if (acked.count(id)) {
        EXPECT_EQ(v, 2) << "round " << round << ": " << id << " was acknowledged migrated";
      }
      (v == 2 ? migrated : untouched) += 1;
    }
    if (HasFailure()) return;
  }
  // Both outcomes happened, so the checks above checked something.
  EXPECT_GT(migrated, 0);
  EXPECT_GT(untouched, 0);
  RecordProperty("migrated", migrated);
  RecordProperty("untouched", untouched);
}

}  // namespace
}  // namespace vatic::persist::test
