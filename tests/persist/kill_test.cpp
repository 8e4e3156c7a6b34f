// Kill -9 durability (spec/persistence.md 4, "Durability"):
//
//   this test ── fork/exec ──> persist_test_crash_child ── SQLite (WAL, FULL) ──> objects.db
//       ^                            |
//       └──── "acct3 1234\n" ────────┘  one line per answer released by the output gate
//
// Fifty times: start the child on the same store, read a random number of
// acknowledgements (sometimes none), SIGKILL it, read what was already in
// the pipe, then open the store in this process and check that every
// acknowledged deposit is there and that no deposit is half there: each
// account's balance is the sum of its log and its count is the log's length
// (deposit() writes all three in one call).
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "kill_child.h"
#include "persist/sqlite_engine.h"
#include "persist/stored_value.h"
#include "temp_dir.h"

namespace vatic::persist {
namespace {

using test::ChildRun;

ChildRun run_and_kill(const std::filesystem::path& db, std::uint64_t seed, int acks) {
  return test::run_and_kill({VATIC_PERSIST_CRASH_CHILD, db.string(), std::to_string(seed)}, acks);
}

std::int64_t stored_int(Engine& e, const std::string& id, const std::string& key) {
  std::optional<Bytes> b = e.get(id, key);
  if (!b) return 0;
  return decode_stored(*b).value().as_int();
}

TEST(PersistKill, AcknowledgedDepositsSurviveSigkillAndNoneIsHalfVisible) {
  vatic::test::TempDir dir("vatic-persist-kill");
  const std::filesystem::path db = dir / "objects.db";
  std::mt19937_64 rng(static_cast<std::uint64_t>(::testing::UnitTest::GetInstance()->random_seed()));
  std::map<std::string, std::set<std::int64_t>> acked;  // account -> balances acknowledged
  std::size_t total_acks = 0;
  for (int round = 0; round < 50; ++round) {
    int acks = rng() % 5 == 0 ? 0 : static_cast<int>(1 + rng() % 200);
    ChildRun r = run_and_kill(db, rng(), acks);
    ASSERT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL)
        << "round " << round << ": the child ended by " << vatic::test::describe_wait_status(r.status)
        << " before it was killed";
    std::istringstream in(r.output);
    std::string account;
    std::int64_t balance;
    while (in >> account >> balance) {
      acked[account].insert(balance);
      ++total_acks;
    }

    auto e = SqliteEngine::open(db);
    for (const auto& [acct, balances] : acked) {
      const std::string id = "ledger/" + acct;
      std::int64_t stored = stored_int(*e, id, "balance");
      std::int64_t count = stored_int(*e, id, "count");
      std::set<std::int64_t> prefix_sums;
      std::int64_t sum = 0;
      std::int64_t entries = 0;
      for (auto& [k, v] : e->scan(id, "log/")) {
        sum += decode_stored(v).value().as_int();
        prefix_sums.insert(sum);
        ++entries;
      }
      ASSERT_EQ(sum, stored) << "round " << round << ", " << acct << ": a deposit is half there";
      ASSERT_EQ(entries, count) << "round " << round << ", " << acct << ": a deposit is half there";
      for (std::int64_t b : balances)
        ASSERT_TRUE(prefix_sums.count(b)) << "round " << round << ", " << acct << ": the acknowledged balance " << b
                                          << " is lost (stored " << stored << ")";
    }
  }
  // The runs did reach the store, so the checks above checked something.
  EXPECT_GT(total_acks, 0u);
  RecordProperty("acknowledged_deposits", static_cast<int>(total_acks));
}

}  // namespace
}  // namespace vatic::persist
