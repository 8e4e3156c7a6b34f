// The vatic demo: four vats on four threads exchanging pipelined messages.
//
//   vat0: Registry  (name -> account, accounts live in vat1 and vat2)
//   vat1, vat2: Bank + Accounts; vat1 also a chain of Relays
//   vat3: the client; everything it touches is far
//
// The client never waits for a reference before using it: it sends to the
// promise of a lookup (pipelining), follows a 10-hop chain of relays in
// another vat in one round trip, sees a broken lookup propagate through a pipeline,
// puts a deadline on a slow call, and finally watches a stopped vat break the
// references into it with `disconnected`.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>

#include "vat/vatic.h"

using namespace std::chrono_literals;
using vatic::Promise;
using vatic::Ref;
using vatic::Task;

namespace {

class Account : public vatic::Object {
 public:
  explicit Account(std::string owner) : owner_(std::move(owner)) {}
  int64_t deposit(int64_t amount) {
    if (amount <= 0) throw vatic::VatError(vatic::ErrorKind::failed, "deposits must be positive");
    return balance_ += amount;
  }
  int64_t balance() const { return balance_; }
  std::string where() const { return fmt::format("{}'s account in {}", owner_, vat().name()); }
  // Answers after `ms` milliseconds of the vat's clock, without blocking the vat.
  Promise<int64_t> slow_balance(int64_t ms) {
    return vat().sleep(std::chrono::milliseconds(ms)).then([b = balance_] { return b; });
  }
  VATIC_METHODS(Account, deposit, balance, where, slow_balance)

 private:
  std::string owner_;
  int64_t balance_ = 0;
};

class Bank : public vatic::Object {
 public:
  Ref<Account> open(std::string owner) { return vat().make<Account>(std::move(owner)); }
  VATIC_METHODS(Bank, open)
};

class Registry : public vatic::Object {
 public:
  void add(std::string name, Ref<Account> account) { accounts_[name] = std::move(account); }
  Ref<Account> lookup(std::string name) const {
    auto it = accounts_.find(name);
    if (it == accounts_.end()) throw vatic::VatError(vatic::ErrorKind::failed, "no account named " + name);
    return it->second;
  }
  VATIC_METHODS(Registry, add, lookup)

 private:
  std::map<std::string, Ref<Account>> accounts_;
};

// A relay knows the relay of the next hop, usually in another vat.
class Relay : public vatic::Object {
 public:
  void link(Ref<Relay> next) { next_ = std::move(next); }
  Ref<Relay> next() const { return next_; }
  std::string where() const { return vat().name(); }
  VATIC_METHODS(Relay, link, next, where)

 private:
  Ref<Relay> next_;
};

Task<void> open_accounts(Ref<Registry> registry, Ref<Bank> bank1, Ref<Bank> bank2) {
  registry.call<&Registry::add>("alice", co_await bank1.send<&Bank::open>("alice"));
  registry.call<&Registry::add>("bob", co_await bank2.send<&Bank::open>("bob"));
}

using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// The client's script, one coroutine in vat3.
Task<void> client(Ref<Registry> registry, Ref<Relay> relay0, Ref<Bank> bank2) {
  std::puts("\n-- pipelining: deposit to alice's account before the lookup has answered");
  Promise<Ref<Account>> alice = registry.send<&Registry::lookup>("alice");
  alice.send<&Account::deposit>(100);  // queued behind the lookup, in order (E-order)
  alice.send<&Account::deposit>(50);
  std::string where = co_await alice.send<&Account::where>();
  int64_t balance = co_await alice.send<&Account::balance>();
  fmt::print("   {} holds {} (3 sends, no round trip spent waiting for the reference)\n", where, balance);

  std::puts("\n-- a 10-hop chain of relays in another vat: pipelined (one round trip) vs. awaited hop by hop");
  auto t0 = Clock::now();
  Promise<Ref<Relay>> hop = relay0.send<&Relay::next>();
  for (int i = 1; i < 10; ++i) hop = hop.send<&Relay::next>();
  std::string end = co_await hop.send<&Relay::where>();
  auto pipelined = Clock::now() - t0;
  t0 = Clock::now();
  Ref<Relay> cur = relay0;
  for (int i = 0; i < 10; ++i) cur = co_await cur.send<&Relay::next>();
  std::string end2 = co_await cur.send<&Relay::where>();
  auto awaited = Clock::now() - t0;
  fmt::print("   pipelined: ends in {} after {:.0f} us\n   awaited:   ends in {} after {:.0f} us\n", end,
             micros(pipelined), end2, micros(awaited));

  std::puts("\n-- a broken lookup breaks everything pipelined on it, with the reason");
  Promise<Ref<Account>> mallory = registry.send<&Registry::lookup>("mallory");
  try {
    co_await mallory.send<&Account::deposit>(1'000'000);
  } catch (const vatic::VatError& e) {
    fmt::print("   deposit to mallory: {}\n", e.what());
  }
  std::string why;
  try {
    co_await alice.send<&Account::deposit>(-5);
  } catch (const vatic::VatError& e) {
    why = e.what();
  }
  fmt::print("   negative deposit to alice: {} (alice still serves: balance {})\n", why,
             co_await alice.send<&Account::balance>());

  std::puts("\n-- a deadline on a slow call");
  try {
    co_await vatic::with_timeout(alice.send<&Account::slow_balance>(500), 50ms);
  } catch (const vatic::VatError& e) {
    fmt::print("   slow_balance(500 ms) within 50 ms: {}\n", e.what());
  }
  fmt::print("   slow_balance(5 ms) within 500 ms: {}\n",
             co_await vatic::with_timeout(alice.send<&Account::slow_balance>(5), 500ms));

  std::puts("\n-- calling by name, as a tool without our headers would");
  vatic::Value v = co_await registry.send<&Registry::lookup>("bob").send<&Account::where>();
  fmt::print("   lookup(\"bob\").where() -> {}\n", v.to_string());
  vatic::Value dyn = co_await Ref<Bank>(bank2).send("open", "carol");
  fmt::print("   bank2.open(\"carol\") -> {}\n", dyn.to_string());
}

}  // namespace

int main() {
  std::puts("vatic demo: 4 vats on 4 threads");
  vatic::VatGroup vats(4);
  vatic::Vat &v0 = vats[0], &v1 = vats[1], &v2 = vats[2], &v3 = vats[3];

  // Wiring: each object is made in its own vat; references cross vats packed.
  auto registry = v0.submit([&] { return vatic::portable(v0.make<Registry>()); }).get();
  auto bank1 = v1.submit([&] { return vatic::portable(v1.make<Bank>()); }).get();
  auto bank2 = v2.submit([&] { return vatic::portable(v2.make<Bank>()); }).get();
  // The lambda returns the coroutine rather than being one: its captures die
  // with the turn, the coroutine's parameters live as long as it does.
  v0.submit([&] { return open_accounts(registry.take(), bank1.take(), bank2.take()); }).get();

  // Eleven relays in vat1, linked into a chain. (A chain whose hops alternate
  // between vats is relayed by the answering vats until path shortening lands;
  // see spec/model.md, E-order.)
  std::vector<vatic::Portable<Relay>> relays;
  for (int i = 0; i < 11; ++i) relays.push_back(v1.submit([&] { return vatic::portable(v1.make<Relay>()); }).get());
  for (int i = 0; i < 10; ++i) v1.submit([&, i] { relays[i].take().call<&Relay::link>(relays[i + 1].take()); }).get();

  int status = 0;
  try {
    v3.submit([&]() -> Promise<void> { return client(registry.take(), relays[0].take(), bank2.take()); }).get();
  } catch (const std::exception& e) {
    fmt::print(stderr, "demo failed: {}\n", e.what());
    status = 1;
  }

  std::puts("\n-- stopping vat2: references into it break with `disconnected`");
  vats.stop_vat(2);
  try {
    v3.submit([&] { return registry.take().send<&Registry::lookup>("bob").send<&Account::balance>(); }).get();
    std::puts("   unexpected: bob's account answered");
    status = 1;
  } catch (const vatic::VatError& e) {
    fmt::print("   bob's balance: {}\n", e.what());
  }
  for (std::size_t i = 0; i < vats.size(); ++i) {
    if (i == 2) continue;
    auto s = vats[i].submit([&vat = vats[i]] { return vat.stats(); }).get();
    fmt::print("   {}: {} turns, {} live objects\n", vats[i].name(), s.turns_run, s.live_objects);
  }
  vats.stop();
  std::puts(status == 0 ? "\ndemo ok" : "\ndemo FAILED");
  return status;
}
