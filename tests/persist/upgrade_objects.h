// Three versions of one kind, "account", for the upgrade tests
// (spec/persistence.md 6): version 1 keeps whole units under "balance",
// version 2 keeps cents under "cents", version 3 adds a "currency". Switches
// make a version's migration or activation fail, so that the tests can drive
// the failure paths; a teller lets a call wait across an upgrade.
#pragma once

#include <cstdint>
#include <string>

#include "persist/host.h"
#include "persist_objects.h"
#include "vat/vatic.h"

namespace vatic::persist::test {

// What the tests switch on and off (the objects are made by the host, so
// they read it from here).
struct UpgradeFaults {
  static inline bool migrate_fails = false;   // the 1 -> 2 step throws (after writing)
  static inline bool v2_start_fails = false;  // AccountV2::on_activate throws
  static inline int v1_start_failures = 0;    // AccountV1::on_activate throws this many more times
  static void reset() {
    migrate_fails = false;
    v2_start_fails = false;
    v1_start_failures = 0;
  }
};

class AccountV1 : public Persistent {
 public:
  void on_activate() override {
    if (UpgradeFaults::v1_start_failures > 0) {
      --UpgradeFaults::v1_start_failures;
      throw VatError(ErrorKind::failed, "v1 cannot start");
    }
    cache_ = balance_.get();
  }
  std::int64_t deposit(std::int64_t n) {
    balance_.set(balance_.get() + n);
    cache_ = balance_.get();
    return cache_;
  }
  std::int64_t balance() { return balance_.get(); }
  // Writes, then waits for the teller: a call in flight for as long as the test wants.
  Task<std::int64_t> deposit_after(Ref<Teller> teller) {
    balance_.set(balance_.get() + 1000);
    std::int64_t n = co_await teller.send<&Teller::wait>();
    balance_.set(balance_.get() + n);
    co_return balance_.get();
  }
  // The in-memory cache no longer matches the committed balance: crash.
  std::int64_t check() {
    if (cache_ != balance_.get()) crash("cache out of step");
    return cache_;
  }
  // Writes, corrupts its cache, and crashes: the writes must roll back.
  std::int64_t corrupt() {
    balance_.set(-1);
    cache_ = -1;
    crash("corrupted on purpose");
  }
  std::int64_t cached() { return cache_; }
  std::int64_t version() { return 1; }
  VATIC_METHODS(AccountV1, deposit, balance, deposit_after, check, corrupt, cached, version)

 private:
  Cell<std::int64_t> balance_{this, "balance", 0};
  std::int64_t cache_ = 0;
};

// spec/persistence.md 6: the newest code migrates from every older version,
// one step at a time.
inline void migrate_account(std::int64_t from, Migration& txn) {
  if (from == 1) {
    txn.put("cents", txn.get<std::int64_t>("balance").value_or(0) * 100);
    txn.erase("balance");
    if (UpgradeFaults::migrate_fails) throw VatError(ErrorKind::failed, "the migration refuses this object");
  } else if (from == 2) {
    txn.put("currency", std::string("EUR"));
  }
}

class AccountV2 : public Persistent {
 public:
  void on_activate() override {
    if (UpgradeFaults::v2_start_fails) throw VatError(ErrorKind::failed, "v2 cannot start");
  }
  std::int64_t deposit_cents(std::int64_t n) {
    cents_.set(cents_.get() + n);
    return cents_.get();
  }
  std::int64_t cents() { return cents_.get(); }
  std::int64_t version() { return 2; }
  VATIC_METHODS(AccountV2, deposit_cents, cents, version)

 private:
  Cell<std::int64_t> cents_{this, "cents", 0};
};

class AccountV3 : public Persistent {
 public:
  std::int64_t cents() { return cents_.get(); }
  std::string currency() { return currency_.get(); }
  std::int64_t version() { return 3; }
  VATIC_METHODS(AccountV3, cents, currency, version)

 private:
  Cell<std::int64_t> cents_{this, "cents", 0};
  Cell<std::string> currency_{this, "currency", ""};
};

// The kill -9 test of migrations (migration_kill_test.cpp): version 1 keeps
// many keys "k/NNNN" holding N; version 2's migration moves every one of them
// to "v2/NNNN" holding 2N, so that a half-applied migration would show.
class BigV1 : public Persistent {
 public:
  std::int64_t fill(std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) kv().put(fmt::format("k/{:04}", i), i);
    return n;
  }
  std::int64_t version() { return 1; }
  VATIC_METHODS(BigV1, fill, version)
};

inline void migrate_big(std::int64_t from, Migration& txn) {
  if (from != 1) throw VatError(ErrorKind::failed, "big: no such version");
  for (auto& [k, v] : txn.scan_values("k/")) {
    txn.erase(k);
    txn.put("v2/" + k.substr(2), v.as_int() * 2);
  }
}

class BigV2 : public Persistent {
 public:
  std::int64_t version() { return 2; }
  VATIC_METHODS(BigV2, version)
};

}  // namespace vatic::persist::test
