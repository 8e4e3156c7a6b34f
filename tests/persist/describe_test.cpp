// Host::describe (spec/admin.md, `persist`; spec/persistence.md 11): the
// inspection view lists every registered version with its state, and the
// active objects with the version they run; the describer outlives its host.
#include "persist/host.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "persist/memory_engine.h"
#include "upgrade_objects.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

const Value& field(const Value& rec, std::string_view name) {
  const Value* v = rec.as_record().find(name);
  if (!v) throw std::runtime_error("no field " + std::string(name));
  return *v;
}

// The record of `list` whose `key` is `value` (and `key2` is `value2`).
const Value* find(const Value& list, std::string_view key, std::string_view value, std::string_view key2 = {},
                  std::int64_t value2 = 0) {
  for (const Value& x : list.as_list())
    if (field(x, key).as_text() == value && (key2.empty() || field(x, key2).as_int() == value2)) return &x;
  return nullptr;
}

TEST(HostDescribe, ListsVersionsWithTheirStateAndTheActiveObjects) {
  UpgradeFaults::reset();
  ManualClock clock;
  Vat vat{VatOptions{.name = "persist", .clock = &clock}};
  auto engine = std::make_shared<MemoryEngine>();
  auto host = std::make_unique<Host>(vat, engine, HostOptions{.name = "h1", .idle = 10s});
  host->register_kind<AccountV1>({.name = "account", .version = 1});
  ASSERT_EQ(vat.wait(host->object<AccountV1>("a").send<&AccountV1::deposit>(1)), 1);
  ASSERT_EQ(vat.wait(host->object<AccountV1>("b").send<&AccountV1::deposit>(2)), 2);
  host->register_kind<AccountV2>(
      {.name = "account", .version = 2, .migrate = migrate_account, .intensity = 0, .period = 5s});
  ASSERT_EQ(vat.wait(host->object<AccountV2>("a").send<&AccountV2::cents>()), 100);  // migrated
  clock.advance(3s);

  Value d = host->describe();
  EXPECT_EQ(d.as_record().label, "persist");
  EXPECT_EQ(field(d, "host").as_text(), "h1");
  EXPECT_EQ(field(d, "active").as_int(), 1);  // b was ended by the upgrade, a runs version 2
  EXPECT_EQ(field(d, "migrations").as_int(), 1);
  const Value* v1 = find(field(d, "kinds"), "kind", "account", "version", 1);
  const Value* v2 = find(field(d, "kinds"), "kind", "account", "version", 2);
  ASSERT_TRUE(v1 && v2);
  EXPECT_EQ(field(*v1, "state").as_text(), "older");
  EXPECT_EQ(field(*v2, "state").as_text(), "current");
  EXPECT_TRUE(field(*v2, "migrate").as_bool());
  EXPECT_EQ(field(*v2, "activations").as_int(), 1);
  const Value* a = find(field(d, "objects"), "id", "account/a");
  ASSERT_TRUE(a);
  EXPECT_EQ(field(*a, "version").as_int(), 2);
  EXPECT_EQ(field(*a, "epoch").as_int(), 2);
  EXPECT_EQ(field(*a, "idle_ms").as_int(), 3000);
  EXPECT_EQ(find(field(d, "objects"), "id", "account/b"), nullptr);

  // One failure is more than an intensity of 0: version 2 is withdrawn.
  UpgradeFaults::v2_start_fails = true;
  Promise<std::int64_t> p = host->object<AccountV2>("b").send<&AccountV2::cents>();
  vat.run_until_idle();
  ASSERT_TRUE(p.is_broken());
  d = host->describe();
  EXPECT_EQ(field(*find(field(d, "kinds"), "kind", "account", "version", 2), "state").as_text(), "withdrawn");
  EXPECT_EQ(field(*find(field(d, "kinds"), "kind", "account", "version", 1), "state").as_text(), "current");
  EXPECT_EQ(field(d, "rollbacks").as_int(), 2);
  EXPECT_EQ(field(d, "failed_activations").as_int(), 1);
  // What was lost stays visible without a log sink: a's cents.
  const Value* ra = find(field(d, "rollback_log"), "object", "account/a");
  ASSERT_TRUE(ra);
  EXPECT_EQ(field(*ra, "lost").as_text(), "cents");
  EXPECT_EQ(field(*ra, "from").as_int(), 2);
  EXPECT_EQ(field(*ra, "to").as_int(), 1);
  EXPECT_EQ(field(*ra, "time_ms").as_int(), clock.unix_ms());
  UpgradeFaults::reset();

  std::function<Value()> view = host->describer();
  EXPECT_EQ(field(view(), "host").as_text(), "h1");
  host.reset();
  Value closed = view();
  EXPECT_TRUE(field(closed, "closed").as_bool());
}

}  // namespace
}  // namespace vatic::persist::test
