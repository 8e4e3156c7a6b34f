// Reminders in an upgrade (spec/persistence.md 6 and 8): a migration step
// that sets or forgets reminders keeps their earlier settings in the
// pre-image; a rollback restores them, and the host's timers follow (the
// restored setting runs, a reminder the newer version added does not).
// Both engines.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/migration.h"
#include "persist/sqlite_engine.h"
#include "temp_dir.h"
#include "vat/vatic.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

// Due times, relative to the clock's start: version 1 sets "tick" at 1 s;
// version 2's migration moves it to 5 s, adds "audit" at 3 s and forgets
// "old".
constexpr std::int64_t kTickV1 = 1000, kTickV2 = 5000, kAudit = 3000, kOld = 2000;

struct Switches {
  static inline bool v2_start_fails = false;
};

class JobV1 : public Persistent {
 public:
  void start(std::int64_t t0) {
    remind("tick", t0 + kTickV1, 0);
    remind("old", t0 + kOld, 0);
  }
  std::int64_t fired(std::string name) { return kv().get<std::int64_t>("fired/" + name).value_or(0); }
  void on_reminder(const std::string& name) override { kv().put("fired/" + name, fired(name) + 1); }
  VATIC_METHODS(JobV1, start, fired)
};

class JobV2 : public JobV1 {
 public:
  void on_activate() override {
    if (Switches::v2_start_fails) throw VatError(ErrorKind::failed, "v2 cannot start");
  }
};

std::int64_t t0_ms = 0;  // the clock's unix ms at the start of each test

void migrate_job(std::int64_t from, Migration& txn) {
  if (from != 1) return;
  txn.remind("tick", t0_ms + kTickV2, 0);
  txn.remind("audit", t0_ms + kAudit, 0);
  txn.forget("old");
  txn.put("v2", std::int64_t{1});
}

class MigrationReminders : public ::testing::TestWithParam<std::string> {
 protected:
  MigrationReminders() : dir_("vatic-mrem") {
    Switches::v2_start_fails = false;
    t0_ms = clock.unix_ms();
    if (GetParam() == "memory")
      engine = std::make_shared<MemoryEngine>();
    else
      engine = SqliteEngine::open(dir_ / "objects.db");
  }
  ~MigrationReminders() override { Switches::v2_start_fails = false; }

  std::unique_ptr<Host> host_with_v2() {
    auto h = std::make_unique<Host>(vat, engine, HostOptions{.name = "h", .idle = 10s});
    h->register_kind<JobV1>({.name = "job", .version = 1});
    h->register_kind<JobV2>({.name = "job", .version = 2, .migrate = migrate_job, .intensity = 0, .period = 5s});
    return h;
  }
  std::map<std::string, ReminderTimes> stored() {
    std::map<std::string, ReminderTimes> out;
    for (const Reminder& r : engine->reminders("job")) out.emplace(r.name, r.times);
    return out;
  }
  void advance_to(std::int64_t ms) {
    clock.advance(std::chrono::milliseconds(t0_ms + ms - clock.unix_ms()));
    vat.run_until_idle();
  }

  vatic::test::TempDir dir_;
  ManualClock clock;
  Vat vat{VatOptions{.name = "persist", .clock = &clock}};
  std::shared_ptr<Engine> engine;
};

TEST_P(MigrationReminders, AMigrationsRemindersAreCommittedWithItAndArmed) {
  {
    Host h1(vat, engine, HostOptions{.name = "h1"});
    h1.register_kind<JobV1>({.name = "job", .version = 1});
    vat.wait(h1.object<JobV1>("a").send<&JobV1::start>(t0_ms));
  }
  auto host = host_with_v2();
  EXPECT_EQ(vat.wait(host->object<JobV2>("a").send<&JobV2::fired>("tick")), 0);  // migrates
  EXPECT_EQ(stored(),
            (std::map<std::string, ReminderTimes>{{"audit", {t0_ms + kAudit, 0}}, {"tick", {t0_ms + kTickV2, 0}}}));
  advance_to(kTickV2 + 1);
  Ref<JobV2> a = host->object<JobV2>("a");
  EXPECT_EQ(vat.wait(a.send<&JobV2::fired>("tick")), 1);
  EXPECT_EQ(vat.wait(a.send<&JobV2::fired>("audit")), 1);
  EXPECT_EQ(vat.wait(a.send<&JobV2::fired>("old")), 0);  // forgotten by the migration
  EXPECT_TRUE(stored().empty());
}

TEST_P(MigrationReminders, ARollbackRestoresTheRemindersAMigrationChangedAndTheTimersFollow) {
  {
    Host h1(vat, engine, HostOptions{.name = "h1"});
    h1.register_kind<JobV1>({.name = "job", .version = 1});
    vat.wait(h1.object<JobV1>("a").send<&JobV1::start>(t0_ms));
  }
  std::vector<LogEvent> events;
  vat.set_log_sink([&](const LogEvent& e) { events.push_back(e); }, LogLevel::info);
  auto host = host_with_v2();
  // Version 2 migrates the object (committed, its reminders armed) and then
  // fails to start: one failure is more than its intensity of 0, so it is
  // withdrawn and the object rolled back.
  Switches::v2_start_fails = true;
  Promise<std::int64_t> p = host->object<JobV2>("a").send<&JobV2::fired>("tick");
  vat.run_until_idle();
  ASSERT_TRUE(p.is_broken());
  ASSERT_EQ(engine->stored("job/a")->version, 1);
  EXPECT_FALSE(engine->get("job/a", "v2"));
  // The settings from before the migration are back; the one it added is gone.
  EXPECT_EQ(stored(),
            (std::map<std::string, ReminderTimes>{{"old", {t0_ms + kOld, 0}}, {"tick", {t0_ms + kTickV1, 0}}}));
  bool logged = false;
  for (const auto& e : events)
    if (e.event == "persist.rolled_back") {
      logged = true;
      EXPECT_EQ(*e.field("lost_reminders"), "audit, tick");
    }
  EXPECT_TRUE(logged);
  // And the host's timers follow: tick runs at its old time under version 1,
  // old runs, audit never does.
  advance_to(kTickV1 + 1);
  Ref<JobV1> a = host->object<JobV1>("a");
  EXPECT_EQ(vat.wait(a.send<&JobV1::fired>("tick")), 1);
  advance_to(kTickV2 + 1);
  EXPECT_EQ(vat.wait(a.send<&JobV1::fired>("tick")), 1);
  EXPECT_EQ(vat.wait(a.send<&JobV1::fired>("old")), 1);
  EXPECT_EQ(vat.wait(a.send<&JobV1::fired>("audit")), 0);
  EXPECT_TRUE(stored().empty());
}

TEST(Migration, ARemindersSettingIsCheckedAsInACall) {
  MemoryEngine e;
  Migration txn(e, "job/a", 1);
  EXPECT_THROW(txn.remind("", 0), VatError);
  EXPECT_THROW(txn.remind("r", -1), VatError);
  EXPECT_THROW(txn.remind("r", kMaxReminderDueMs + 1), VatError);
  EXPECT_THROW(txn.remind("r", 0, kMaxReminderPeriodMs + 1), VatError);
  EXPECT_THROW(txn.forget(std::string(257, 'x')), VatError);
  txn.remind("r", 10, 5);
  txn.forget("s");
  MigrationWrites m = txn.take(1, 1, 2);
  ASSERT_EQ(m.reminders.size(), 2u);
  EXPECT_EQ(m.reminders[0].second, (ReminderTimes{10, 5}));
  EXPECT_FALSE(m.reminders[1].second);
}

INSTANTIATE_TEST_SUITE_P(Engines, MigrationReminders, ::testing::Values("memory", "sqlite"));

}  // namespace
}  // namespace vatic::persist::test
