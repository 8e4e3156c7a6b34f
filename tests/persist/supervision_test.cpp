// Supervision of persistent objects (spec/persistence.md 10): an activation
// that fails to start or crashes in a method restarts from the committed
// state on the next message, under the kind's intensity; beyond it, the
// object's restarts pause for the kind's period.
#include "persist/host.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "persist/memory_engine.h"
#include "persist/stored_value.h"
#include "upgrade_objects.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

class SupervisionTest : public ::testing::Test {
 protected:
  SupervisionTest() {
    UpgradeFaults::reset();
    vat.set_log_sink([this](const LogEvent& e) { events.push_back(std::string(e.event)); }, LogLevel::info);
  }
  ~SupervisionTest() override { UpgradeFaults::reset(); }

  template <class T>
  Error broken(Promise<T> p) {
    vat.run_until_idle();
    EXPECT_TRUE(p.is_broken());
    return p.is_broken() ? p.error() : Error{};
  }
  std::unique_ptr<Host> make_host() {
    auto h = std::make_unique<Host>(vat, engine, HostOptions{.name = "h", .idle = 10s});
    h->register_kind<AccountV1>({.name = "account", .version = 1, .intensity = 2, .period = 5s});
    return h;
  }
  // A host of its own commits `units` for alice, so that the test's host
  // starts with alice passivated.
  void seed(std::int64_t units) {
    Host h(vat, engine, HostOptions{.name = "seed"});
    h.register_kind<AccountV1>({.name = "account", .version = 1});
    ASSERT_EQ(vat.wait(h.object<AccountV1>("alice").send<&AccountV1::deposit>(units)), units);
  }

  ManualClock clock;
  Vat vat{VatOptions{.name = "persist", .clock = &clock}};
  std::shared_ptr<MemoryEngine> engine = std::make_shared<MemoryEngine>();
  std::unique_ptr<Host> host = make_host();
  Ref<AccountV1> alice = host->object<AccountV1>("alice");
  std::vector<std::string> events;
};

TEST_F(SupervisionTest, AnActivationThatFailsToStartRestartsFromCommittedStateOnTheNextMessage) {
  seed(5);
  UpgradeFaults::v1_start_failures = 2;
  EXPECT_EQ(broken(alice.send<&AccountV1::balance>()).reason, "v1 cannot start");
  EXPECT_EQ(broken(alice.send<&AccountV1::balance>()).reason, "v1 cannot start");
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::balance>()), 5);
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::cached>()), 5);
  EXPECT_EQ(host->stats().failed_activations, 2);
  EXPECT_EQ(host->stats().active, 1);
  EXPECT_EQ(std::count(events.begin(), events.end(), "persist.activation_failed"), 2);
}

TEST_F(SupervisionTest, BeyondTheIntensityRestartsPauseForThePeriodThenResume) {
  seed(5);
  UpgradeFaults::v1_start_failures = 3;  // more than the intensity of 2
  for (int i = 0; i < 3; ++i) EXPECT_EQ(broken(alice.send<&AccountV1::balance>()).reason, "v1 cannot start");
  // Paused: the object is not even tried (it would start now).
  EXPECT_EQ(UpgradeFaults::v1_start_failures, 0);
  Error e = broken(alice.send<&AccountV1::balance>());
  EXPECT_EQ(e.kind, ErrorKind::overloaded);
  EXPECT_NE(e.reason.find("restarts are paused"), std::string::npos) << e.reason;
  EXPECT_EQ(host->stats().failed_activations, 3);
  EXPECT_NE(std::find(events.begin(), events.end(), "persist.paused"), events.end());
  clock.advance(5s);
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::balance>()), 5);
}

TEST_F(SupervisionTest, ACrashInAMethodBreaksItsCallsAndRestartsFromCommittedState) {
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::deposit>(5)), 5);
  Ref<Teller> teller = vat.make<Teller>();
  Promise<std::int64_t> waiting = alice.send<&AccountV1::deposit_after>(teller);  // wrote 1000, waits
  vat.run_until_idle();
  Error crashed = broken(alice.send<&AccountV1::corrupt>());  // writes -1, then crashes
  EXPECT_EQ(crashed.kind, ErrorKind::disconnected);
  EXPECT_NE(crashed.reason.find("crashed (corrupted on purpose)"), std::string::npos) << crashed.reason;
  ASSERT_TRUE(waiting.is_broken());  // in flight at the crash
  EXPECT_EQ(waiting.error().kind, ErrorKind::disconnected);
  EXPECT_NE(waiting.error().reason.find("restarts from its committed state; retry is safe"), std::string::npos)
      << waiting.error().reason;
  teller.call<&Teller::release>(1);  // the broken call finishes late: nothing of it commits
  vat.run_until_idle();
  // A new activation, from the committed state: neither -1 nor 1000 is there.
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::balance>()), 5);
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::cached>()), 5);
  EXPECT_EQ(host->stats().activations, 2);
  EXPECT_EQ(host->stats().failed_activations, 1);
}

TEST_F(SupervisionTest, WritesOfCallsFulfilledBeforeACrashAreCommittedAndAnswered) {
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::deposit>(5)), 5);
  // Both in one run: the deposit is fulfilled and waits for the commit turn
  // when the crash ends its activation.
  Promise<std::int64_t> deposit = alice.send<&AccountV1::deposit>(2);
  Promise<std::int64_t> crash = alice.send<&AccountV1::corrupt>();
  vat.run_until_idle();
  EXPECT_EQ(deposit.value(), 7);
  EXPECT_TRUE(crash.is_broken());
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::balance>()), 7);
  EXPECT_EQ(*engine->get("account/alice", "balance"), encode_stored(Value(std::int64_t{7})));
}

TEST_F(SupervisionTest, CrashesCountUnderTheIntensityAndBeyondItTheRestartsPause) {
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::deposit>(5)), 5);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(broken(alice.send<&AccountV1::corrupt>()).kind, ErrorKind::disconnected);
    EXPECT_EQ(vat.wait(alice.send<&AccountV1::check>()), 5);  // restarted: the cache matches again
  }
  // The third crash within the period is more than the intensity of 2.
  EXPECT_EQ(broken(alice.send<&AccountV1::corrupt>()).kind, ErrorKind::disconnected);
  EXPECT_EQ(host->stats().failed_activations, 3);
  EXPECT_EQ(broken(alice.send<&AccountV1::balance>()).kind, ErrorKind::overloaded);
  clock.advance(5s);
  EXPECT_EQ(vat.wait(alice.send<&AccountV1::check>()), 5);
  EXPECT_EQ(host->stats().activations, 4);
}

}  // namespace
}  // namespace vatic::persist::test
