// persist_bench: persistent objects (spec/persistence.md) against plain
// objects of the same vat, in the same run. One JSON line per metric on
// stdout (bench_util.h); sizes and checks on stderr. Every answer is checked.
//
//   persist.invoke_per_s          warm persistent object, read-only call (memory engine)
//   persist.plain_invoke_per_s    the same call on a plain object (the ratio's base)
//   persist.a2a_per_s             a persistent object's call that asks another one (memory engine)
//   persist.plain_a2a_per_s       the same between plain objects
//   persist.write_turn_per_s      deposits over 64 objects, window 1024, SQLite fsync'd
//   persist.calls_per_commit      deposits per store transaction in that run (group commit)
//   persist.create_invoke_per_s   create<T>() then its first call, SQLite
//   persist.cold_activate_us      passivated object -> first answer, p50, SQLite
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_util.h"
#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/sqlite_engine.h"
#include "vat/vatic.h"

using namespace vatic;
using namespace vatic::bench;
using namespace std::chrono_literals;

namespace {

const std::array<std::string, 8> kMetrics = {"persist.invoke_per_s",        "persist.plain_invoke_per_s",
                                             "persist.a2a_per_s",           "persist.plain_a2a_per_s",
                                             "persist.write_turn_per_s",    "persist.calls_per_commit",
                                             "persist.create_invoke_per_s", "persist.cold_activate_us"};

class Account : public persist::Persistent {
 public:
  std::int64_t deposit(std::int64_t n) {
    balance_.set(balance_.get() + n);
    return balance_.get();
  }
  std::int64_t balance() { return balance_.get(); }
  VATIC_METHODS(Account, deposit, balance)

 private:
  persist::Cell<std::int64_t> balance_{this, "balance", 0};
};

class Plain : public Object {
 public:
  std::int64_t balance() { return balance_; }
  VATIC_METHODS(Plain, balance)

 private:
  std::int64_t balance_ = 7;
};

// Answers with another object's balance: an actor-to-actor call (its send
// leaves through the output gate when the asking call awaits, spec 4).
class Asker : public persist::Persistent {
 public:
  Promise<std::int64_t> ask(Ref<Account> other) { return other.send<&Account::balance>(); }
  VATIC_METHODS(Asker, ask)
};
class PlainAsker : public Object {
 public:
  Promise<std::int64_t> ask(Ref<Plain> other) { return other.send<&Plain::balance>(); }
  VATIC_METHODS(PlainAsker, ask)
};

[[noreturn]] void mismatch(const char* what) {
  std::fprintf(stderr, "persist_bench: wrong answer in %s\n", what);
  std::exit(1);
}

// Sends `n` read-only calls in batches of 10 000, each batch driven to idle;
// calls per second.
template <class T>
double invoke_rate(Vat& vat, Ref<T> target, std::int64_t expect, int n) {
  std::vector<Promise<std::int64_t>> batch;
  auto t0 = BenchClock::now();
  for (int done = 0; done < n; done += 10'000) {
    batch.clear();
    for (int i = 0; i < 10'000; ++i) batch.push_back(target.template send<&T::balance>());
    vat.run_until_idle();
    for (auto& p : batch)
      if (p.pending() || p.is_broken() || p.value() != expect) mismatch("invoke");
  }
  return n / seconds_since(t0);
}

void invoke(int n) {
  Vat vat;
  persist::Host host(vat, std::make_shared<persist::MemoryEngine>());
  host.register_kind<Account>({.name = "account"});
  Ref<Account> a = host.object<Account>("warm");
  if (vat.wait(a.send<&Account::deposit>(7)) != 7) mismatch("setup");
  Ref<Plain> p = vat.make<Plain>();
  invoke_rate(vat, a, 7, n / 10);  // warm-up
  invoke_rate(vat, p, 7, n / 10);
  emit("persist.invoke_per_s", invoke_rate(vat, a, 7, n), "calls/s");
  emit("persist.plain_invoke_per_s", invoke_rate(vat, p, 7, n), "calls/s");
}

// Calls per second of `asker.ask(other)`, in batches of 10 000 driven to idle.
template <class A, class O>
double a2a_rate(Vat& vat, Ref<A> asker, Ref<O> other, std::int64_t expect, int n) {
  std::vector<Promise<std::int64_t>> batch;
  auto t0 = BenchClock::now();
  for (int done = 0; done < n; done += 10'000) {
    batch.clear();
    for (int i = 0; i < 10'000; ++i) batch.push_back(asker.template send<&A::ask>(other));
    vat.run_until_idle();
    for (auto& p : batch)
      if (p.pending() || p.is_broken() || p.value() != expect) mismatch("a2a");
  }
  return n / seconds_since(t0);
}

void a2a(int n) {
  Vat vat;
  persist::Host host(vat, std::make_shared<persist::MemoryEngine>());
  host.register_kind<Account>({.name = "account"});
  host.register_kind<Asker>({.name = "asker"});
  Ref<Account> a = host.object<Account>("asked");
  if (vat.wait(a.send<&Account::deposit>(7)) != 7) mismatch("setup");
  Ref<Asker> asker = host.object<Asker>("asking");
  Ref<PlainAsker> plain_asker = vat.make<PlainAsker>();
  Ref<Plain> p = vat.make<Plain>();
  a2a_rate(vat, asker, a, 7, n / 10);  // warm-up
  a2a_rate(vat, plain_asker, p, 7, n / 10);
  emit("persist.a2a_per_s", a2a_rate(vat, asker, a, 7, n), "calls/s");
  emit("persist.plain_a2a_per_s", a2a_rate(vat, plain_asker, p, 7, n), "calls/s");
}

void writes(const std::filesystem::path& db, int n) {
  Vat vat;
  auto engine = std::shared_ptr<persist::Engine>(persist::SqliteEngine::open(db));
  persist::Host host(vat, engine);
  host.register_kind<Account>({.name = "account"});
  std::vector<Ref<Account>> accounts;
  for (int i = 0; i < 64; ++i) accounts.push_back(host.object<Account>(fmt::format("w{}", i)));
  int sent = 0;
  int answered = 0;
  std::function<void()> send_one = [&] {
    Ref<Account>& a = accounts[static_cast<std::size_t>(sent++ % 64)];
    a.send<&Account::deposit>(1).then([&](std::int64_t) {
      ++answered;
      if (sent < n) send_one();
    });
  };
  auto t0 = BenchClock::now();
  for (int i = 0; i < 1024 && sent < n; ++i) send_one();
  while (answered < n) vat.run_until_idle();
  double rate = n / seconds_since(t0);
  std::int64_t total = 0;
  for (auto& a : accounts) total += vat.wait(a.send<&Account::balance>());
  if (total != n) mismatch("writes");
  emit("persist.write_turn_per_s", rate, "calls/s");
  emit("persist.calls_per_commit", static_cast<double>(n) / static_cast<double>(host.stats().commits), "calls");
}

void create_invoke(const std::filesystem::path& db, int n) {
  Vat vat;
  persist::Host host(vat, std::shared_ptr<persist::Engine>(persist::SqliteEngine::open(db)));
  host.register_kind<Account>({.name = "account"});
  std::vector<Promise<std::int64_t>> answers;
  auto t0 = BenchClock::now();
  for (int i = 0; i < n; ++i) answers.push_back(host.create<Account>().send<&Account::deposit>(1));
  vat.run_until_idle();
  double rate = n / seconds_since(t0);
  for (auto& p : answers)
    if (p.pending() || p.is_broken() || p.value() != 1) mismatch("create_invoke");
  emit("persist.create_invoke_per_s", rate, "calls/s");
}

void cold_activate(const std::filesystem::path& db, int n) {
  ManualClock clock;
  Vat vat{VatOptions{.name = "cold", .clock = &clock}};
  persist::Host host(vat, std::shared_ptr<persist::Engine>(persist::SqliteEngine::open(db)), {.idle = 1s});
  host.register_kind<Account>({.name = "account"});
  Ref<Account> a = host.object<Account>("cold");
  vat.wait(a.send<&Account::deposit>(5));
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    clock.advance(2s);
    vat.run_until_idle();  // the idle timer passivates it
    auto t0 = BenchClock::now();
    if (vat.wait(a.send<&Account::balance>()) != 5) mismatch("cold_activate");
    us.push_back(micros_since(t0));
  }
  if (host.stats().passivations < n) mismatch("cold_activate: not passivated");
  emit("persist.cold_activate_us", percentile(us, 50), "us");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  bool list = false;
  for (std::string_view a : args) {
    if (a == "--smoke")
      options().smoke = true;
    else if (a == "--list")
      list = true;
    else if (a.starts_with("-")) {
      std::fprintf(stderr, "usage: %s [--list | [--smoke] [METRIC-OR-PREFIX]]\n", argv[0]);
      return 2;
    } else
      options().filter = std::string(a);
  }
  if (list) {
    for (const auto& m : kMetrics) std::printf("%s\n", m.c_str());
    return 0;
  }
  char tmpl[] = "/tmp/vatic-persist-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  std::filesystem::path dir = tmpl;
  if (wanted("persist.invoke_per_s") || wanted("persist.plain_invoke_per_s")) invoke(scaled(2'000'000, 20'000));
  if (wanted("persist.a2a_per_s") || wanted("persist.plain_a2a_per_s")) a2a(scaled(1'000'000, 20'000));
  if (wanted("persist.write_turn_per_s") || wanted("persist.calls_per_commit"))
    writes(dir / "writes.db", scaled(200'000, 2'000));
  if (wanted("persist.create_invoke_per_s")) create_invoke(dir / "create.db", scaled(20'000, 100));
  if (wanted("persist.cold_activate_us")) cold_activate(dir / "cold.db", scaled(500, 20));
  std::filesystem::remove_all(dir);
  return 0;
}
