// The kv of one persistent object against a std::map model: random calls that
// write and erase, some of which throw, sent one to three at a time (so that
// they share a group commit), with restarts of the host, passivations and
// failed commits between them. After each step, what the object reads, what
// the engine holds and the model agree: a fulfilled answer's writes are
// durable, a broken answer's writes are nowhere.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <map>
#include <memory>

#include "persist/memory_engine.h"
#include "persist/stored_value.h"
#include "persist_objects.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;
using Model = std::map<std::string, std::int64_t>;

std::unique_ptr<Host> open_host(Vat& vat, std::shared_ptr<Engine> e) {
  auto h = std::make_unique<Host>(vat, std::move(e), HostOptions{.idle = 10s});
  h->register_kind<Ledger>({.name = "ledger"});
  return h;
}

std::vector<KvOp> gen_ops() {
  std::vector<KvOp> ops(*rc::gen::inRange<std::size_t>(0, 4));
  for (KvOp& op : ops) {
    op.key = "m/" + std::string(1, static_cast<char>('a' + *rc::gen::inRange(0, 4)));
    if (*rc::gen::inRange(0, 4) != 0) op.value = *rc::gen::inRange<std::int64_t>(-5, 100);
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

std::vector<std::string> keys(const Model& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

Model committed(Engine& e) {
  Model out;
  for (auto& [k, b] : e.scan("ledger/m", "m/")) out[k] = decode_stored(b)->as_int();
  return out;
}

RC_GTEST_PROP(PersistModel, KvAgreesWithAMapThroughRollbacksRestartsAndFailedCommits, ()) {
  ManualClock clock;
  Vat vat{VatOptions{.name = "model", .clock = &clock}};
  auto engine = std::make_shared<MemoryEngine>();
  auto host = open_host(vat, engine);
  Ref<Ledger> obj = host->object<Ledger>("m");
  Model model;
  const int steps = *rc::gen::inRange(1, 30);
  for (int i = 0; i < steps; ++i) {
    switch (*rc::gen::inRange(0, 10)) {
      case 0:  // a restart: the host goes, a new one opens the same engine
        host.reset();
        host = open_host(vat, engine);
        obj = host->object<Ledger>("m");
        break;
      case 1:  // long idle: the object is passivated
        clock.advance(11s);
        vat.run_until_idle();
        break;
      case 2: {  // the next commit fails: the call's answer breaks, nothing changes
        std::vector<KvOp> ops = gen_ops();
        engine->fail_commits(1);
        Promise<std::vector<std::string>> p = obj.send<&Ledger::apply>(ops, false);
        vat.run_until_idle();
        engine->fail_commits(0);
        if (ops.empty()) {
          RC_ASSERT(!p.pending() && !p.is_broken());
        } else {
          RC_ASSERT(p.is_broken());
          RC_ASSERT(p.error().kind == ErrorKind::disconnected);
        }
        break;
      }
      default: {  // one to three calls in one queue drain, some throwing
        struct Sent {
          Promise<std::vector<std::string>> p;
          bool fail;
          std::vector<std::string> expect;
        };
        std::vector<Sent> sent;
        const int n = *rc::gen::inRange(1, 4);
        for (int c = 0; c < n; ++c) {
          std::vector<KvOp> ops = gen_ops();
          bool fail = *rc::gen::inRange(0, 4) == 0;
          Promise<std::vector<std::string>> p = obj.send<&Ledger::apply>(ops, fail);
          if (!fail) apply_ops(model, ops);
          sent.push_back({std::move(p), fail, keys(model)});
        }
        vat.run_until_idle();
        for (const Sent& s : sent) {
          RC_ASSERT(!s.p.pending());
          RC_ASSERT(s.p.is_broken() == s.fail);
          if (!s.fail) RC_ASSERT(s.p.value() == s.expect);
        }
      }
    }
    RC_ASSERT(committed(*engine) == model);
    RC_ASSERT(vat.wait(obj.send<&Ledger::dump>()) == model);
  }
}

}  // namespace
}  // namespace vatic::persist::test
