// Migrations against a std::map model (spec/persistence.md 6): an object's
// kv at version 1, a chain of random migration steps up to version 2 to 4
// (one of them may throw), random writes by the new code, then a rollback.
// What holds: a migration that fails leaves the store exactly as it was; one
// that succeeds stores every step's writes in order and the new version; the
// rollback restores the keys the migration wrote to their values before it,
// keeps every other key as the new code left it, and reports as lost exactly
// the values it replaced or erased.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/stored_value.h"
#include "persist_objects.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;
using Model = std::map<std::string, std::int64_t>;

// One class per version (a host registers each class once).
template <int V>
class Versioned : public Persistent {
 public:
  Model apply(std::vector<KvOp> ops) {
    for (const KvOp& op : ops) {
      if (op.value)
        kv().put(op.key, *op.value);
      else
        kv().erase(op.key);
    }
    return dump();
  }
  Model dump() {
    Model out;
    for (auto& [k, v] : kv().scan<std::int64_t>("m/")) out.emplace(k, v);
    return out;
  }
  VATIC_METHODS(Versioned, apply, dump)
};

std::vector<KvOp> gen_ops(int max) {
  std::vector<KvOp> ops(*rc::gen::inRange<std::size_t>(0, static_cast<std::size_t>(max)));
  for (KvOp& op : ops) {
    op.key = "m/" + std::string(1, static_cast<char>('a' + *rc::gen::inRange(0, 5)));
    if (*rc::gen::inRange(0, 3) != 0) op.value = *rc::gen::inRange<std::int64_t>(0, 100);
  }
  return ops;
}

void apply_ops(Model& m, const std::vector<KvOp>& ops) {
  for (const KvOp& op : ops) {
    if (op.value)
      m[op.key] = *op.value;
    else
      m.erase(op.key);
  }
}

Model committed(Engine& e) {
  Model out;
  for (auto& [k, b] : e.scan("thing/x", "m/")) out[k] = decode_stored(b)->as_int();
  return out;
}

struct Plan {
  std::vector<std::vector<KvOp>> steps;  // steps[from - 1]: what the step from `from` writes
  std::int64_t fail_at = 0;              // the step that throws after writing (0: none)
};

std::unique_ptr<Host> open_host(Vat& vat, std::shared_ptr<Engine> e, std::int64_t top, const Plan& plan) {
  auto h = std::make_unique<Host>(vat, std::move(e), HostOptions{.idle = 10s});
  h->register_kind<Versioned<1>>({.name = "thing", .version = 1});
  if (top == 1) return h;
  KindSpec spec{.name = "thing", .version = top, .migrate = [plan](std::int64_t from, Migration& txn) {
                  for (const KvOp& op : plan.steps.at(static_cast<std::size_t>(from - 1))) {
                    if (op.value)
                      txn.put(op.key, *op.value);
                    else
                      txn.erase(op.key);
                  }
                  if (from == plan.fail_at) throw VatError(ErrorKind::failed, "step refused");
                }};
  if (top == 2) h->register_kind<Versioned<2>>(std::move(spec));
  if (top == 3) h->register_kind<Versioned<3>>(std::move(spec));
  if (top == 4) h->register_kind<Versioned<4>>(std::move(spec));
  return h;
}

RC_GTEST_PROP(PersistMigrationModel, MigrationsCommitAllOrNothingAndRollbacksRestoreWhatTheyWrote, ()) {
  ManualClock clock;
  Vat vat{VatOptions{.name = "model", .clock = &clock}};
  auto engine = std::make_shared<MemoryEngine>();
  const std::int64_t top = *rc::gen::inRange<std::int64_t>(2, 5);
  Plan plan;
  for (std::int64_t v = 1; v < top; ++v) plan.steps.push_back(gen_ops(5));
  if (*rc::gen::inRange(0, 4) == 0) plan.fail_at = *rc::gen::inRange<std::int64_t>(1, top);

  // Version 1 writes the state the migration starts from.
  Model before;
  {
    auto h = open_host(vat, engine, 1, plan);
    std::vector<KvOp> seed = gen_ops(8);
    apply_ops(before, seed);
    RC_ASSERT(vat.wait(h->object<Versioned<1>>("x").send<&Versioned<1>::apply>(seed)) == before);
  }
  auto host = open_host(vat, engine, top, plan);
  Promise<Model> first = host->object<Versioned<1>>("x").send<&Versioned<1>::dump>();
  vat.run_until_idle();
  if (plan.fail_at) {
    RC_ASSERT(first.is_broken());
    RC_ASSERT(committed(*engine) == before);
    RC_ASSERT(engine->stored("thing/x")->version == 1);
    RC_ASSERT(!engine->stored("thing/x")->preimage_from);
    return;
  }
  Model migrated = before;
  std::set<std::string> written;
  for (const auto& step : plan.steps) {
    apply_ops(migrated, step);
    for (const KvOp& op : step) written.insert(op.key);
  }
  RC_ASSERT(first.value() == migrated);
  RC_ASSERT(committed(*engine) == migrated);
  RC_ASSERT(engine->stored("thing/x")->version == top);
  RC_ASSERT(engine->stored("thing/x")->preimage_from == 1);

  // The new code writes on, then the object is rolled back.
  Model after = migrated;
  std::vector<KvOp> later = gen_ops(6);
  apply_ops(after, later);
  RC_ASSERT(vat.wait(host->object<Versioned<1>>("x").send<&Versioned<1>::apply>(later)) == after);
  host.reset();
  std::optional<RolledBack> r = engine->rollback("thing/x");
  RC_ASSERT(r.has_value());
  RC_ASSERT(r->version == 1);
  Model restored = after;
  std::vector<std::string> lost;
  for (const std::string& k : written) {
    auto now = after.find(k);
    auto was = before.find(k);
    if (now != after.end() && (was == before.end() || was->second != now->second)) lost.push_back(k);
    if (was != before.end())
      restored[k] = was->second;
    else
      restored.erase(k);
  }
  RC_ASSERT(r->lost == lost);
  RC_ASSERT(committed(*engine) == restored);
  auto old_code = open_host(vat, engine, 1, plan);
  RC_ASSERT(vat.wait(old_code->object<Versioned<1>>("x").send<&Versioned<1>::dump>()) == restored);
}

}  // namespace
}  // namespace vatic::persist::test
