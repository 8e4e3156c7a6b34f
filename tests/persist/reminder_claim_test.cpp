// Reminders with several hosts on one store (spec/persistence.md 8): each
// host arms every reminder of its kinds, and only the one that claims a due
// reminder runs it, so it runs once across them; a claim whose host closes
// before the reminder's call commits lets another host run it after the lease.
// Both engines: two SqliteEngines on one file, or one shared MemoryEngine.
//
//   vat A -- host A --\
//                      +-- one store (SQLite file / MemoryEngine)
//   vat B -- host B --/
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/sqlite_engine.h"
#include "persist/stored_value.h"
#include "temp_dir.h"
#include "vat/vatic.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

class Beeper : public Persistent {
 public:
  static inline int fail_next = 0;  // on_reminder calls still to fail

  void set(std::string name, std::int64_t due_ms, std::int64_t period_ms) { remind(name, due_ms, period_ms); }
  void on_reminder(const std::string& name) override {
    kv().put("fired/" + name, kv().get<std::int64_t>("fired/" + name).value_or(0) + 1);
    if (fail_next > 0) {
      --fail_next;
      throw VatError(ErrorKind::failed, "not now");
    }
  }
  VATIC_METHODS(Beeper, set)
};

class ReminderClaims : public ::testing::TestWithParam<std::string> {
 protected:
  ReminderClaims() : dir_("vatic-claims") {
    Beeper::fail_next = 0;
    t0 = clock.unix_ms();
  }
  ~ReminderClaims() override { Beeper::fail_next = 0; }

  std::shared_ptr<Engine> engine() {
    if (GetParam() == "memory") return shared_;
    return SqliteEngine::open(dir_ / "objects.db");  // one connection per host
  }
  std::unique_ptr<Host> open_host(Vat& vat, const char* name) {
    auto h = std::make_unique<Host>(vat, engine(), HostOptions{.name = name, .reminder_lease = 30s});
    h->register_kind<Beeper>({.name = "beeper"});
    return h;
  }
  // Runs both vats until neither has anything to do, A first each round.
  void run() {
    for (int i = 0; i < 100; ++i)
      if (va.run_until_idle() + vb.run_until_idle() == 0) return;
  }
  void advance_to(std::int64_t ms) {
    clock.advance(std::chrono::milliseconds(t0 + ms - clock.unix_ms()));
    run();
  }
  std::int64_t fired(const std::string& name) {
    auto e = engine();
    auto b = e->get("beeper/x", "fired/" + name);
    return b ? decode_stored(*b).value().as_int() : 0;
  }

  vatic::test::TempDir dir_;
  std::shared_ptr<MemoryEngine> shared_ = std::make_shared<MemoryEngine>();
  ManualClock clock;
  Vat va{VatOptions{.name = "a", .clock = &clock}};
  Vat vb{VatOptions{.name = "b", .clock = &clock}};
  std::int64_t t0 = 0;
};

TEST_P(ReminderClaims, ADueReminderRunsOnceAcrossTwoHostsAndOnlyOneActivatesItsObject) {
  auto a = open_host(va, "A");
  va.wait(a->object<Beeper>("x").send<&Beeper::set>("tick", t0 + 1000, 1000));
  auto b = open_host(vb, "B");  // reads the reminder from the store, and arms it too
  for (int k = 1; k <= 3; ++k) {
    advance_to(1000 * k + 1);
    EXPECT_EQ(fired("tick"), k) << "period " << k;
  }
  // Host B never ran it, so it never fenced A's activation out.
  EXPECT_EQ(b->stats().activations, 0);
  EXPECT_EQ(a->stats().activations, 1);
  EXPECT_EQ(a->stats().fenced, 0);
}

TEST_P(ReminderClaims, WhenTheClaimingHostClosesBeforeTheCallCommitsTheOtherRunsItAfterTheLease) {
  auto a = open_host(va, "A");
  va.wait(a->object<Beeper>("x").send<&Beeper::set>("once", t0 + 1000, 0));
  auto b = open_host(vb, "B");
  // A claims it at its due time; its call breaks (nothing committed) and A
  // closes before it would retry.
  Beeper::fail_next = 1;
  clock.advance(std::chrono::milliseconds(t0 + 1001 - clock.unix_ms()));
  va.run_until_idle();
  EXPECT_EQ(fired("once"), 0);
  a.reset();
  va.run_until_idle();
  // B finds A's claim and waits for its lease (30 s from the claim).
  vb.run_until_idle();
  advance_to(1001 + 29'000);
  EXPECT_EQ(fired("once"), 0);
  EXPECT_EQ(b->stats().activations, 0);
  advance_to(1001 + 30'001);
  EXPECT_EQ(fired("once"), 1);
  EXPECT_TRUE(engine()->reminders("beeper").empty());
  advance_to(1001 + 120'000);
  EXPECT_EQ(fired("once"), 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, ReminderClaims, ::testing::Values("memory", "sqlite"));

}  // namespace
}  // namespace vatic::persist::test
