#include "vat/task.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tests/vat/test_objects.h"

namespace vatic {
namespace {

using test::Counter;
using test::run_in;

Task<int> add_later(Promise<int> a, Promise<int> b) { co_return co_await a + co_await b; }

Task<void> record_steps(std::vector<std::string>* log, Promise<void> gate) {
  log->push_back("start");
  co_await gate;
  log->push_back("resumed");
}

Task<int> throws_after_await(Promise<void> gate) {
  co_await gate;
  throw VatError(ErrorKind::overloaded, "too much");
}

Task<int> throws_before_await() {
  throw std::runtime_error("early");
  co_return 0;
}

Task<std::string> catches(Promise<int> p) {
  try {
    co_await p;
  } catch (const VatError& e) {
    co_return "caught " + e.error().reason;
  }
  co_return "no error";
}

Task<int> awaits_a_task(Promise<int> p) {
  int x = co_await add_later(p, Promise<int>::resolved(1));
  co_return x * 2;
}

struct Sentinel {
  bool* destroyed;
  ~Sentinel() { *destroyed = true; }
};

Task<int> sleeps_an_hour() {
  co_await Vat::current()->sleep(std::chrono::hours(1));
  co_return 1;
}

Task<int> holds_sentinel(bool* destroyed, Promise<int> p) {
  Sentinel s{destroyed};
  co_return co_await p;
}

// Counts its copies (moves are free), to see what co_await and then copy.
struct CopyCount {
  int n = 0;
  int* copies = nullptr;
  CopyCount() = default;
  CopyCount(int value, int* c) : n(value), copies(c) {}
  CopyCount(const CopyCount& o) : n(o.n), copies(o.copies) { count(); }
  CopyCount(CopyCount&&) noexcept = default;
  CopyCount& operator=(const CopyCount& o) {
    n = o.n;
    copies = o.copies;
    count();
    return *this;
  }
  CopyCount& operator=(CopyCount&&) noexcept = default;
  ~CopyCount() = default;
  void count() const {
    if (copies) ++*copies;
  }
  VATIC_FIELDS(CopyCount, n)
};

Task<int> awaits_temporary_then_shared(int* copies) {
  CopyCount a = co_await Promise<CopyCount>::resolved(CopyCount(1, copies));
  int after_temporary = *copies;
  auto p = Promise<CopyCount>::resolved(CopyCount(2, copies));
  CopyCount b = co_await p;
  CopyCount c = co_await p;  // a promise still held elsewhere keeps its value
  co_return after_temporary * 100 + *copies * 10 + (a.n + b.n + c.n == 5 ? 1 : 0);
}

TEST(Task, CoAwaitMovesTheValueOfATemporaryAndCopiesASharedOne) {
  Vat vat;
  int copies = 0;
  EXPECT_EQ(run_in(vat, [&] { return awaits_temporary_then_shared(&copies); }), 21);
}

TEST(Task, ThenMovesTheValueOnlyWhenNothingElseHoldsThePromise) {
  Vat vat;
  int copies = 0;
  auto sum = run_in(
      vat, [&] { return Promise<CopyCount>::resolved(CopyCount(3, &copies)).then([](CopyCount c) { return c.n; }); });
  EXPECT_EQ(sum, 3);
  EXPECT_EQ(copies, 0);
  auto kept = run_in(vat, [&] {
    auto p = Promise<CopyCount>::resolved(CopyCount(4, &copies));
    return std::make_pair(p, p.then([](const CopyCount& c) { return c.n; }));
  });
  EXPECT_EQ(vat.wait(kept.second), 4);
  EXPECT_EQ(kept.first.value().n, 4) << "the promise still held keeps its value";
}

TEST(Task, StartingOutsideAVatThrowsLogicError) { EXPECT_THROW((void)throws_before_await(), std::logic_error); }

TEST(Task, CoReturnFulfilsItsPromise) {
  Vat vat;
  EXPECT_EQ(run_in(vat, [] { return add_later(Promise<int>::resolved(2), Promise<int>::resolved(3)); }), 5);
}

TEST(Task, StartsEagerlyAndResumesInALaterTurn) {
  Vat vat;
  std::vector<std::string> log;
  vat.post([&] {
    Task<void> t = record_steps(&log, Promise<void>::resolved());
    log.push_back("after call");
  });
  EXPECT_EQ(vat.run_until_idle(), 2u);  // the posted turn, then the resumption
  EXPECT_EQ(log, (std::vector<std::string>{"start", "after call", "resumed"}));
}

TEST(Task, EachResumptionIsItsOwnTurn) {
  Vat vat;
  vat.post([] { (void)add_later(Promise<int>::resolved(1), Promise<int>::resolved(1)); });
  EXPECT_EQ(vat.run_until_idle(), 3u);
}

TEST(Task, WaitsForAPendingPromise) {
  Vat vat;
  auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
  auto t = run_in(vat, [p = p] { return std::make_optional(Promise<int>(awaits_a_task(p))); });
  vat.run_until_idle();
  EXPECT_TRUE(t->pending());
  r.resolve(20);
  EXPECT_EQ(vat.wait(*t), 42);
}

TEST(Task, AnExceptionAfterAwaitBreaksItsPromiseWithTheError) {
  Vat vat;
  auto t = run_in(vat, [] { return std::make_optional(Promise<int>(throws_after_await(Promise<void>::resolved()))); });
  EXPECT_EQ(test::broken_error(vat, *t), (Error{ErrorKind::overloaded, "too much"}));
  EXPECT_EQ(vat.stats().turn_failures, 0u);
}

TEST(Task, AnExceptionBeforeTheFirstAwaitBreaksItsPromiseToo) {
  Vat vat;
  auto t = run_in(vat, [] { return std::make_optional(Promise<int>(throws_before_await())); });
  EXPECT_EQ(test::broken_error(vat, *t), (Error{ErrorKind::failed, "early"}));
}

TEST(Task, AwaitingABrokenPromiseThrowsItsErrorInsideTheCoroutine) {
  Vat vat;
  EXPECT_EQ(run_in(vat,
                   [] {
                     return catches(Promise<int>::broken(Error{ErrorKind::disconnected, "gone"}));
                   }),
            "caught gone");
  EXPECT_EQ(run_in(vat, [] { return catches(Promise<int>::resolved(1)); }), "no error");
}

TEST(Task, CanBeAwaitedAndThenChained) {
  Vat vat;
  EXPECT_EQ(run_in(vat,
                   [] {
                     Promise<int> p = add_later(Promise<int>::resolved(1), Promise<int>::resolved(2));
                     return p.then([](int x) { return x * 100; });
                   }),
            300);
}

TEST(Task, MethodsReturningTasksAnswerTheirSends) {
  Vat vat;
  auto c = vat.make<Counter>();
  EXPECT_EQ(vat.wait(c.send<&Counter::inc_twice>(5)), 10);
  EXPECT_EQ(vat.wait(c.send("inc_twice", 1)).as_int(), 12);
}

TEST(Task, ASuspendedCoroutineIsDestroyedWhenItsVatGoesAway) {
  bool destroyed = false;
  {
    Vat vat;
    auto [p, r] = run_in(vat, [] { return make_promise<int>(); });
    vat.post([&destroyed, p = p] { (void)holds_sentinel(&destroyed, p); });
    vat.run_until_idle();
    EXPECT_FALSE(destroyed);
  }
  EXPECT_TRUE(destroyed);
}

// Release destroys a suspended coroutine (ResumeListener's destructor) but
// nothing breaks the Task's promise: whoever waits on it (here a submit future,
// across vats a caller) waits forever, and the promise leaks in a cycle with
// the FutureBridge listening on it. A `then` chain in the same spot breaks
// with `disconnected` (see Vat.ReleaseBreaksAPendingThenChainWithDisconnected).
TEST(Task, ATaskSuspendedWhenItsVatIsReleasedBreaksWithDisconnected) {
  Vat vat;
  auto f = vat.submit([] { return sleeps_an_hour(); });
  vat.run_until_idle();
  vat.release();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(test::future_error(std::move(f)).kind, ErrorKind::disconnected);
}

}  // namespace
}  // namespace vatic
