// Objects and a two-vat harness shared by the CapTP session tests. The
// harness runs two vats, each with a Node, joined by an in-memory pipe (or by
// real sockets), all driven from the test thread: no sleeps, the loops run
// until what the test waits for has happened or a deadline passes.
#pragma once

#include <algorithm>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "vat/vatic.h"

namespace vatic::test {

inline void PrintTo(const Error& e, std::ostream* os) { *os << to_string(e); }

// The peer baseline's Bench interface (bench/peers/bench.capnp), plus a few
// methods the protocol tests need.
class Echo : public Object {
 public:
  explicit Echo(int depth = 0) : depth_(depth) {}
  std::int64_t echo(std::int64_t x) { return x; }
  Ref<Echo> next() { return vat().make<Echo>(depth_ + 1); }
  Bytes data(std::uint32_t n) { return Bytes(n, 0x5a); }
  // Bulk bytes both ways: the argument comes back reversed.
  Bytes mirror(Bytes b) {
    std::reverse(b.begin(), b.end());
    return b;
  }
  int depth() const { return depth_; }
  // A record holding a reference: pipelining into a field.
  Value pair() {
    Record r;
    r.label = "pair";
    r.fields.emplace_back("left", to_value(vat().make<Echo>(depth_ + 10)));
    r.fields.emplace_back("n", Value(7));
    return Value(std::move(r));
  }
  void boom() { throw std::runtime_error("boom"); }
  // Capability passing: keep a reference, call it later, hand it back.
  void hold(Ref<Echo> r) { held_ = std::move(r); }
  Promise<std::int64_t> call_held(std::int64_t x) { return held_.send<&Echo::echo>(x); }
  Ref<Echo> held() const { return held_; }
  Ref<Echo> same(Ref<Echo> r) { return r; }
  // Answers only when resolve_later() is called: a promise exported pending.
  Promise<Ref<Echo>> later() {
    auto [p, r] = make_promise<Ref<Echo>>();
    later_ = std::move(r);
    return p;
  }
  void resolve_later(Ref<Echo> to) { later_.resolve(std::move(to)); }
  std::int64_t order(std::int64_t x) {
    seen_.push_back(x);
    return static_cast<std::int64_t>(seen_.size());
  }
  std::vector<std::int64_t> seen() const { return seen_; }
  // Answers only when the object goes away.
  Promise<std::int64_t> hang() {
    auto [p, r] = make_promise<std::int64_t>();
    hung_.push_back(std::move(r));
    return p;
  }
  // Takes any value (a promise, say) and lets it go at once.
  void ignore(Value) {}
  // Answers only once the caller answers a call back into its own vat.
  Promise<std::int64_t> call_back(Ref<Echo> caller, std::int64_t x) { return caller.send<&Echo::echo>(x); }

  VATIC_METHODS(Echo, echo, next, data, mirror, depth, pair, boom, hold, call_held, held, same, later, resolve_later,
                order, seen, hang, ignore, call_back)

 private:
  int depth_;
  Ref<Echo> held_;
  Resolver<Ref<Echo>> later_;
  std::vector<std::int64_t> seen_;
  std::vector<Resolver<std::int64_t>> hung_;
};

// Two vats with nodes on one thread; `a` dials `b`. Each node may have its
// own options, and both vats may read one given clock (a ManualClock).
struct TwoVats {
  Vat va, vb;
  std::unique_ptr<captp::Node> a, b;

  explicit TwoVats(captp::NodeOptions o = {}) : TwoVats(o, o, nullptr) {}
  TwoVats(captp::NodeOptions oa, captp::NodeOptions ob, Clock* clock)
      : va(vat_options("a", clock)), vb(vat_options("b", clock)) {
    a = std::make_unique<captp::Node>(va, captp::Identity::generate(), oa);
    b = std::make_unique<captp::Node>(vb, captp::Identity::generate(), ob);
  }
  static VatOptions vat_options(const char* name, Clock* clock) {
    return VatOptions{.name = name, .clock = clock, .spin_before_block = Duration::zero()};
  }
  ~TwoVats() {
    a.reset();
    b.reset();
    drain();
  }

  // b's bootstrap object is an Echo; returns a's reference to it over a pipe.
  Ref<Echo> connect_pipe() {
    b->set_bootstrap(vb.make<Echo>());
    auto [ea, eb] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(eb));
    return a->connect<Echo>(b->id(), std::move(ea));
  }

  void drain() {
    for (int i = 0; i < 100; ++i) {
      if (va.run_until_idle() + vb.run_until_idle() == 0) break;
    }
  }
  // Runs both loops until pred() holds; false after `limit`.
  bool run_until(const std::function<bool()>& pred, Duration limit = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      va.run_until_idle();
      vb.run_until_idle();
    }
    return true;
  }
  template <class T>
  T get(Promise<T> p) {
    EXPECT_TRUE(run_until([&] { return !p.pending(); })) << "promise did not settle";
    if (p.is_broken()) throw VatError(p.error());
    if constexpr (!std::is_void_v<T>) return p.value();
  }
  template <class T>
  Error error_of(Promise<T> p) {
    EXPECT_TRUE(run_until([&] { return !p.pending(); })) << "promise did not settle";
    EXPECT_TRUE(p.is_broken());
    return p.is_broken() ? p.error() : Error{};
  }
};

// Three vats with nodes on one thread, not yet joined (each test wires its
// own triangle); a test steps one vat at a time with run('a'|'b'|'c'). The
// nodes go, and the loops drain, after the deriving test's references went.
struct ThreeVatLoops {
  Vat va{TwoVats::vat_options("a", nullptr)}, vb{TwoVats::vat_options("b", nullptr)},
      vc{TwoVats::vat_options("c", nullptr)};
  std::unique_ptr<captp::Node> a = std::make_unique<captp::Node>(va, captp::Identity::generate());
  std::unique_ptr<captp::Node> b = std::make_unique<captp::Node>(vb, captp::Identity::generate());
  std::unique_ptr<captp::Node> c = std::make_unique<captp::Node>(vc, captp::Identity::generate());

  ~ThreeVatLoops() {
    a.reset();
    b.reset();
    c.reset();
    drain();
  }
  void drain() {
    for (int i = 0; i < 100; ++i)
      if (va.run_until_idle() + vb.run_until_idle() + vc.run_until_idle() == 0) break;
  }
  template <class T>
  T get(Promise<T> p) {
    for (int i = 0; i < 100 && p.pending(); ++i) drain();
    EXPECT_FALSE(p.pending()) << "promise did not settle";
    if (p.is_broken()) throw VatError(p.error());
    if constexpr (!std::is_void_v<T>) return p.value();
  }
  void run(char v) {
    switch (v) {
      case 'a': va.run_until_idle(); return;
      case 'b': vb.run_until_idle(); return;
      case 'c': vc.run_until_idle(); return;
    }
  }
};

// Every sequence of `n` runs of one of the three vats ("", "a", ..., "cc"...),
// for tests that try a race under each interleaving.
inline std::vector<std::string> three_vat_schedules(std::size_t n) {
  std::vector<std::string> out{""};
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> next;
    for (const auto& s : out)
      for (char v : {'a', 'b', 'c'}) next.push_back(s + v);
    out = std::move(next);
  }
  return out;
}

}  // namespace vatic::test
