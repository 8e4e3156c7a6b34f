// Reminders (spec/persistence.md 8): durable timers that run on_reminder as a
// call of their own, at least once, across passivation and restarts.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist_objects.h"
#include "vat/vatic.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

class Alarm : public Persistent {
 public:
  static inline int fail_next = 0;  // on_reminder calls still to fail

  void set(std::string name, std::int64_t in_ms, std::int64_t period_ms) {
    remind(name, vat().clock().unix_ms() + in_ms, period_ms);
  }
  void set_at(std::string name, std::int64_t due_ms, std::int64_t period_ms) { remind(name, due_ms, period_ms); }
  Task<void> set_after(Ref<test::Teller> teller, std::string name, std::int64_t due_ms) {
    remind(name, due_ms, 0);
    co_await teller.send<&test::Teller::wait>();
  }
  void set_then_fail(std::string name, std::int64_t in_ms) {
    remind(name, vat().clock().unix_ms() + in_ms, 0);
    throw VatError(ErrorKind::failed, "changed my mind");
  }
  void cancel(std::string name) { forget(name); }
  std::int64_t fired(std::string name) { return kv().get<std::int64_t>("fired/" + name).value_or(0); }

  void on_reminder(const std::string& name) override {
    kv().put("fired/" + name, fired(name) + 1);  // rolled back if we throw below
    if (fail_next > 0) {
      --fail_next;
      throw VatError(ErrorKind::failed, "not now");
    }
  }
  VATIC_METHODS(Alarm, set, set_at, set_after, set_then_fail, cancel, fired)
};

class Reminders : public ::testing::Test {
 protected:
  Reminders() { Alarm::fail_next = 0; }

  std::unique_ptr<Host> open_host() {
    auto h = std::make_unique<Host>(vat, engine, HostOptions{.idle = 10s});
    h->register_kind<Alarm>({.name = "alarm"});
    return h;
  }
  void advance(Duration d) {
    clock.advance(d);
    vat.run_until_idle();
  }
  std::int64_t fired(const std::string& name) { return vat.wait(alarm().send<&Alarm::fired>(name)); }
  Ref<Alarm> alarm() { return host->object<Alarm>("a"); }

  ManualClock clock;
  Vat vat{VatOptions{.name = "reminders", .clock = &clock}};
  std::shared_ptr<MemoryEngine> engine = std::make_shared<MemoryEngine>();
  std::unique_ptr<Host> host = open_host();
};

TEST_F(Reminders, AOneShotReminderFiresOnceAndIsErased) {
  vat.wait(alarm().send<&Alarm::set>("once", 1000, 0));
  ASSERT_EQ(engine->reminders("alarm").size(), 1u);
  advance(500ms);
  EXPECT_EQ(fired("once"), 0);
  advance(600ms);
  EXPECT_EQ(fired("once"), 1);
  EXPECT_TRUE(engine->reminders("alarm").empty());
  advance(10s);
  EXPECT_EQ(fired("once"), 1);
}

TEST_F(Reminders, APeriodicReminderFiresEachPeriodAndSkipsMissedOnes) {
  vat.wait(alarm().send<&Alarm::set>("tick", 1000, 1000));
  advance(1000ms);
  EXPECT_EQ(fired("tick"), 1);
  advance(1000ms);
  EXPECT_EQ(fired("tick"), 2);
  // While nothing ran for 10.5 periods (one vat timer per reminder: it fires
  // once when the loop next runs), the missed periods are skipped.
  advance(10500ms);
  EXPECT_EQ(fired("tick"), 3);
  auto r = engine->reminders("alarm");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_GT(r[0].times.due_ms, clock.unix_ms());
  EXPECT_LE(r[0].times.due_ms, clock.unix_ms() + 1000);
  EXPECT_EQ(r[0].times.period_ms, 1000);
}

TEST_F(Reminders, AReminderSurvivesARestartAndActivatesItsObject) {
  vat.wait(alarm().send<&Alarm::set>("later", 5000, 0));
  host.reset();
  host = open_host();
  EXPECT_EQ(host->stats().activations, 0);
  advance(5s);
  EXPECT_EQ(host->stats().activations, 1);  // the reminder woke it
  EXPECT_EQ(fired("later"), 1);
}

TEST_F(Reminders, APassivatedObjectIsReactivatedByItsReminder) {
  vat.wait(alarm().send<&Alarm::set>("wake", 60'000, 0));
  advance(11s);
  EXPECT_EQ(host->stats().passivations, 1);
  advance(50s);
  EXPECT_EQ(host->stats().activations, 2);
  EXPECT_EQ(fired("wake"), 1);
}

TEST_F(Reminders, AReminderSetInABrokenCallNeverExists) {
  Promise<void> p = alarm().send<&Alarm::set_then_fail>("no", 100);
  vat.run_until_idle();
  EXPECT_TRUE(p.is_broken());
  EXPECT_TRUE(engine->reminders("alarm").empty());
  advance(10s);
  EXPECT_EQ(fired("no"), 0);
}

TEST_F(Reminders, AFailingReminderFiresAgainUntilItsCallSucceeds) {
  Alarm::fail_next = 2;
  vat.wait(alarm().send<&Alarm::set>("retry", 100, 0));
  advance(100ms);
  EXPECT_EQ(fired("retry"), 0);  // its write rolled back with it
  EXPECT_EQ(engine->reminders("alarm").size(), 1u);
  advance(1s);
  EXPECT_EQ(fired("retry"), 0);
  advance(1s);
  EXPECT_EQ(fired("retry"), 1);
  EXPECT_TRUE(engine->reminders("alarm").empty());
  EXPECT_EQ(Alarm::fail_next, 0);
}

TEST_F(Reminders, AForgottenReminderDoesNotFire) {
  vat.wait(alarm().send<&Alarm::set>("x", 1000, 0));
  vat.wait(alarm().send<&Alarm::cancel>("x"));
  EXPECT_TRUE(engine->reminders("alarm").empty());
  advance(5s);
  EXPECT_EQ(fired("x"), 0);
}

TEST_F(Reminders, ADueTimeOrPeriodOutOfRangeFailsItsCallAndSetsNothing) {
  for (auto [due, period] : {std::pair<std::int64_t, std::int64_t>{INT64_MAX, 0},
                             {kMaxReminderDueMs + 1, 0},
                             {-1, 0},
                             {clock.unix_ms() + 1000, INT64_MAX},
                             {clock.unix_ms() + 1000, kMaxReminderPeriodMs + 1}}) {
    Promise<void> p = alarm().send<&Alarm::set_at>("bad", due, period);
    vat.run_until_idle();
    ASSERT_TRUE(p.is_broken()) << due << " " << period;
    EXPECT_EQ(p.error().kind, ErrorKind::failed);
  }
  EXPECT_TRUE(engine->reminders("alarm").empty());
  advance(1s);
  EXPECT_EQ(fired("bad"), 0);
}

TEST_F(Reminders, AReminderFarInTheFutureDoesNotFireEarly) {
  // Year 3000: in range, but its delay in nanoseconds does not fit 64 bits.
  constexpr std::int64_t kYear3000 = 32'503'680'000'000;
  vat.wait(alarm().send<&Alarm::set_at>("far", kYear3000, 0));
  vat.wait(alarm().send<&Alarm::set_at>("edge", kMaxReminderDueMs, kMaxReminderPeriodMs));
  advance(1s);
  EXPECT_EQ(fired("far"), 0);
  EXPECT_EQ(fired("edge"), 0);
  // The host's timer re-arms daily until the due time; never early.
  for (int day = 0; day < 3; ++day) advance(std::chrono::hours(25));
  EXPECT_EQ(fired("far"), 0);
  EXPECT_EQ(fired("edge"), 0);
  EXPECT_EQ(engine->reminders("alarm").size(), 2u);
  // A due time a day and a half away (more than one capped delay) fires then.
  vat.wait(alarm().send<&Alarm::set>("soon", 36 * 3600 * 1000, 0));
  advance(std::chrono::hours(24));
  EXPECT_EQ(fired("soon"), 0);
  advance(std::chrono::hours(13));
  EXPECT_EQ(fired("soon"), 1);
}

TEST_F(Reminders, AStaleFiringDoesNotEraseANewerSetting) {
  vat.wait(alarm().send<&Alarm::set>("r", 1000, 0));
  const std::int64_t newer = clock.unix_ms() + 6000;
  // A call sets the reminder anew, then waits for the teller, which answers
  // just before the old setting is due: the new setting is fulfilled (and
  // maybe committed) before the firing's call ends, and must survive it.
  Ref<Teller> teller = vat.make<Teller>();
  Promise<void> reset = alarm().send<&Alarm::set_after>(teller, "r", newer);
  vat.run_until_idle();
  ASSERT_TRUE(reset.pending());
  Timer answer = vat.after(999ms, [&] { teller.call<&Teller::release>(1); });
  advance(1000ms);
  ASSERT_TRUE(reset.ready());
  EXPECT_EQ(fired("r"), 1);  // the old setting fired
  auto r = engine->reminders("alarm");
  ASSERT_EQ(r.size(), 1u) << "the newer setting was erased by the stale firing";
  EXPECT_EQ(r[0].times.due_ms, newer);
  advance(5s);
  EXPECT_EQ(fired("r"), 2);
}

}  // namespace
}  // namespace vatic::persist::test
