// Objects and helpers shared by the vat tests.
//
// Rules the tests follow: a Ref is only touched by its vat's thread. Tests that
// drive a standalone Vat from the test thread declare the Vat before any Ref so
// the Refs die first. Tests on a VatGroup keep references between turns only as
// Portables (which any thread may hold and drop) and never hand a Ref to the
// test thread through a future.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <initializer_list>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "vat/vatic.h"

namespace vatic {

// Readable gtest output for the vat's types.
inline void PrintTo(const Error& e, std::ostream* os) { *os << to_string(e); }
inline void PrintTo(const Value& v, std::ostream* os) { *os << v.to_string(); }

}  // namespace vatic

namespace vatic::test {

using namespace std::chrono_literals;

class Counter : public Object {
 public:
  Counter() = default;
  explicit Counter(std::int64_t start) : n_(start) {}

  std::int64_t inc(std::int64_t by) { return n_ += by; }
  std::int64_t get() const { return n_; }
  void reset() { n_ = 0; }
  void boom() { throw std::runtime_error("boom"); }
  std::int64_t fail_with(int kind, std::string reason) {
    throw VatError(static_cast<ErrorKind>(kind), std::move(reason));
  }
  Task<std::int64_t> inc_twice(std::int64_t by) {
    co_await Promise<void>::resolved();
    n_ += by;
    co_await Promise<void>::resolved();
    co_return n_ += by;
  }
  std::string describe(std::string prefix) const { return prefix + std::to_string(n_); }
  // Deliberately not listed in VATIC_METHODS: reachable by typed near sends only.
  std::int64_t secret() const { return 42; }

  VATIC_METHODS(Counter, inc, get, reset, boom, fail_with, inc_twice, describe)

 private:
  std::int64_t n_ = 0;
};

// A node of a chain: next() makes the following node in the same vat. The node
// at depth `fail_at` cannot be made: asking for it throws `why`.
class Node : public Object {
 public:
  explicit Node(int depth, int fail_at = -1, Error why = {}) : depth_(depth), fail_at_(fail_at), why_(std::move(why)) {}

  Ref<Node> next() {
    if (depth_ + 1 == fail_at_) throw VatError(why_);
    return vat().make<Node>(depth_ + 1, fail_at_, why_);
  }
  int depth() const { return depth_; }
  std::string where() const { return vat().name(); }
  Ref<Node> self() { return ref_to(this); }
  Ref<Node> none() const { return {}; }

  VATIC_METHODS(Node, next, depth, where, self, none)

 private:
  int depth_;
  int fail_at_;
  Error why_;
};

// Logs (sender, path, seq) triples in arrival order.
class Recorder : public Object {
 public:
  struct Entry {
    std::int64_t sender, path, seq;
  };
  void record(std::int64_t sender, std::int64_t path, std::int64_t seq) { log_.push_back({sender, path, seq}); }
  std::int64_t count() const { return static_cast<std::int64_t>(log_.size()); }
  const std::vector<Entry>& log() const { return log_; }

  VATIC_METHODS(Recorder, record, count)

 private:
  std::vector<Entry> log_;
};

// Hands out the recorder it was given: the way to reach a recorder through a promise.
class Holder : public Object {
 public:
  void set(Ref<Recorder> r) { r_ = std::move(r); }
  Ref<Recorder> recorder() const { return r_; }
  void clear() { r_ = {}; }

  VATIC_METHODS(Holder, set, recorder, clear)

 private:
  Ref<Recorder> r_;
};

// Holds a reference to a counter, possibly in another vat, and works it.
class Peer : public Object {
 public:
  void adopt(Ref<Counter> c) { c_ = std::move(c); }
  Ref<Counter> counter() const { return c_; }
  bool holds(Ref<Counter> c) const { return c == c_; }
  bool is_near(Ref<Counter> c) const { return c.is_near(); }
  Promise<std::int64_t> poke(std::int64_t by) { return c_.send<&Counter::inc>(by); }
  Task<std::int64_t> twice(Promise<std::int64_t> p) { co_return 2 * co_await p; }
  void drop() { c_ = {}; }

  VATIC_METHODS(Peer, adopt, counter, holds, is_near, poke, twice, drop)

 private:
  Ref<Counter> c_;
};

// Answers only when told to: its calls stay in flight.
class Pending : public Object {
 public:
  Promise<std::int64_t> wait() {
    auto [p, r] = make_promise<std::int64_t>();
    waiting_.push_back(std::move(r));
    return p;
  }
  std::int64_t release_all(std::int64_t v) {
    auto n = static_cast<std::int64_t>(waiting_.size());
    for (auto& r : waiting_) r.resolve(v);
    waiting_.clear();
    return n;
  }
  // Answers after `ms` of the vat's clock, through a then-continuation.
  Promise<std::int64_t> later(std::int64_t ms) {
    return vat().sleep(std::chrono::milliseconds(ms)).then([] { return std::int64_t{7}; });
  }
  // The same, as a coroutine.
  Task<std::int64_t> later_task(std::int64_t ms) {
    co_await vat().sleep(std::chrono::milliseconds(ms));
    co_return 7;
  }
  std::int64_t ping() const { return 1; }

  VATIC_METHODS(Pending, wait, release_all, later, later_task, ping)

 private:
  std::vector<Resolver<std::int64_t>> waiting_;
};

struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  friend bool operator==(const Point&, const Point&) = default;
  VATIC_FIELDS(Point, x, y)
};

struct Shape {
  std::string name;
  std::vector<Point> points;
  std::optional<double> scale;
  std::map<std::string, std::int64_t> tags;
  Bytes blob;
  bool closed = false;
  friend bool operator==(const Shape&, const Shape&) = default;
  VATIC_FIELDS(Shape, name, points, scale, tags, blob, closed)
};

class Geometry : public Object {
 public:
  Point shift(Point p, std::int32_t dx, std::int32_t dy) const { return {p.x + dx, p.y + dy}; }
  Shape scaled(Shape s, double k) const {
    s.scale = s.scale.value_or(1.0) * k;
    return s;
  }
  std::vector<std::int64_t> squares(std::vector<std::int64_t> xs) const {
    for (auto& x : xs) x *= x;
    return xs;
  }
  std::optional<std::string> maybe(bool yes) const {
    if (yes) return "yes";
    return std::nullopt;
  }
  std::uint8_t small(std::uint8_t x) const { return x; }

  VATIC_METHODS(Geometry, shift, scaled, squares, maybe, small)
};

// --- Helpers.

// Drives standalone vats on the test thread until none has anything left to do.
inline void pump(std::initializer_list<Vat*> vats) {
  int idle = 0;
  for (int round = 0; round < 10'000 && idle < 4; ++round) {
    std::size_t n = 0;
    for (Vat* v : vats) n += v->run_until_idle();
    idle = n == 0 ? idle + 1 : 0;
  }
}

// Pumps standalone vats, then returns p's value (throws its Error if broken,
// `failed` if still pending).
template <class T>
auto pumped(std::initializer_list<Vat*> vats, const Promise<T>& p) {
  pump(vats);
  if constexpr (std::is_void_v<T>) {
    (void)p.value();
  } else {
    return p.value();
  }
}

// Pumps standalone vats, then returns the Error p broke with.
template <class T>
Error pumped_error(std::initializer_list<Vat*> vats, const Promise<T>& p) {
  pump(vats);
  if (p.pending()) {
    ADD_FAILURE() << "promise still pending";
    return {};
  }
  if (!p.is_broken()) {
    ADD_FAILURE() << "promise did not break";
    return {};
  }
  return p.error();
}

// The Error a promise broke with; fails the test if it did not break.
template <class T>
Error broken_error(Vat& vat, Promise<T> p) {
  try {
    vat.wait(std::move(p));
  } catch (const VatError& e) {
    return e.error();
  }
  ADD_FAILURE() << "promise did not break";
  return {};
}

// The Error a future failed with; fails the test if it did not fail.
template <class T>
Error future_error(std::future<T> f) {
  try {
    f.get();
  } catch (const VatError& e) {
    return e.error();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "future failed with a non-VatError: " << e.what();
    return {};
  }
  ADD_FAILURE() << "future did not fail";
  return {};
}

// As above, for a future set by `vat`'s thread (a vat of a group). The vat is
// first given a turn to finish the one that failed the future and let go of its
// end: libstdc++ counts the references to the stored exception in code that
// ThreadSanitizer does not see, so reading the exception here while that turn
// still drops its reference is reported as a (false) race.
template <class T>
Error future_error(Vat& vat, std::future<T> f) {
  f.wait();
  try {
    vat.submit([] {}).get();
  } catch (const VatError&) {
    // The vat stopped: the future was failed by whoever stopped it.
  }
  return future_error(std::move(f));
}

// Runs f as a turn of a standalone `vat` driven by this thread, drives the vat
// until idle and returns f's result (or the value of the promise f returned).
// Throws std::runtime_error if that promise is still pending.
template <class F>
auto run_in(Vat& vat, F f) {
  auto fut = vat.submit(std::move(f));
  vat.run_until_idle();
  if (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
    throw std::runtime_error("run_in: the turn's promise is still pending");
  return fut.get();
}

// Runs f as a turn of `vat` (in a group) and returns its result.
template <class F>
auto in(Vat& vat, F f) {
  return vat.submit(std::move(f)).get();
}

// Asks `vat` until pred() (run as its turn) holds, or about two seconds passed.
template <class F>
bool eventually(Vat& vat, F pred) {
  for (int i = 0; i < 2000; ++i) {
    if (vat.submit(pred).get()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// The Error an expression throws as VatError; fails the test otherwise.
template <class F>
Error thrown(F f) {
  try {
    f();
  } catch (const VatError& e) {
    return e.error();
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

}  // namespace vatic::test
