// Persistent objects the persist tests share: a ledger with a balance Cell, a
// log in the kv, a method that writes and throws, and a Task that writes
// around an await; a teller that hands out promises the test settles.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "persist/host.h"
#include "vat/vatic.h"

namespace vatic::persist::test {

class Teller : public Object {
 public:
  Promise<std::int64_t> wait() {
    auto [p, r] = make_promise<std::int64_t>();
    waiting_.push_back(std::move(r));
    return p;
  }
  void release(std::int64_t n) {
    for (auto& r : waiting_) r.resolve(n);
    waiting_.clear();
  }
  VATIC_METHODS(Teller, wait, release)

 private:
  std::vector<Resolver<std::int64_t>> waiting_;
};

// One write of a model step: a key and a value, or an erase (no value).
struct KvOp {
  std::string key;
  std::optional<std::int64_t> value;
  VATIC_FIELDS(KvOp, key, value)
};

class Ledger : public Persistent {
 public:
  static inline int alive = 0;
  Ledger() { ++alive; }
  ~Ledger() override { --alive; }

  std::int64_t deposit(std::int64_t n) {
    if (n <= 0) throw VatError(ErrorKind::failed, "a deposit must be positive");
    // Three writes that commit together or not at all (kill_test.cpp checks).
    std::int64_t i = count_.get();
    balance_.set(balance_.get() + n);
    count_.set(i + 1);
    kv().put(fmt::format("log/{:08}", i), n);
    return balance_.get();
  }
  std::int64_t balance() { return balance_.get(); }
  std::vector<std::int64_t> log() {
    std::vector<std::int64_t> out;
    for (auto& [k, v] : kv().scan<std::int64_t>("log/")) out.push_back(v);
    return out;
  }
  // Writes, then throws: spec/persistence.md 3 says the writes roll back.
  std::int64_t deposit_then_fail(std::int64_t n) {
    balance_.set(balance_.get() + n);
    kv().put("poison", true);
    throw VatError(ErrorKind::failed, "refused after writing");
  }
  // Writes before and after an await: one transaction for the whole call.
  Task<std::int64_t> deposit_after(Ref<Teller> teller) {
    balance_.set(balance_.get() + 1);
    std::int64_t n = co_await teller.send<&Teller::wait>();
    if (n < 0) throw VatError(ErrorKind::failed, "the teller said no");
    balance_.set(balance_.get() + n);
    co_return balance_.get();
  }
  // Applies the ops in one call, then reads its own writes back.
  std::vector<std::string> apply(std::vector<KvOp> ops, bool fail) {
    for (const KvOp& op : ops) {
      if (op.value)
        kv().put(op.key, *op.value);
      else
        kv().erase(op.key);
    }
    if (fail) throw VatError(ErrorKind::failed, "asked to fail");
    return keys();
  }
  std::map<std::string, std::int64_t> dump() {
    std::map<std::string, std::int64_t> out;
    for (auto& [k, v] : kv().scan<std::int64_t>("m/")) out.emplace(k, v);
    return out;
  }
  std::vector<std::string> keys() {
    std::vector<std::string> out;
    for (auto& [k, v] : kv().scan_values("m/")) out.push_back(k);
    return out;
  }
  std::string id() { return persistent_id(); }
  Ref<Ledger> me() { return self(this); }

  VATIC_METHODS(Ledger, deposit, balance, log, deposit_then_fail, deposit_after, apply, dump, keys, id, me)

 private:
  Cell<std::int64_t> balance_{this, "balance", 0};
  Cell<std::int64_t> count_{this, "count", 0};
};

// Writes in on_activate, which belongs to no call: its activation fails.
class WritesOnActivate : public Persistent {
 public:
  void on_activate() override { kv().put("x", 1); }
  int ping() { return 1; }
  VATIC_METHODS(WritesOnActivate, ping)
};

}  // namespace vatic::persist::test
