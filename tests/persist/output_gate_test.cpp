// The output gate for what a call sends and resolves (spec/persistence.md 4):
// nothing a call of a persistent object sends or resolves is seen before the
// call's writes are durable, nothing of a call that breaks or whose commit
// fails is seen at all, and a call that awaits what it sent is not stuck.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/stored_value.h"
#include "persist_objects.h"

namespace vatic::persist::test {
namespace {

using namespace std::chrono_literals;

// The notifier's count as the store holds it (0: nothing stored).
std::int64_t stored_count(MemoryEngine& engine) {
  auto b = engine.get("notifier/x", "count");
  if (!b) return 0;
  Result<Value> v = decode_stored(*b);
  return v ? v->as_int() : -1;
}

// A plain object that notes, for each message, whether the write it reports
// (a count of at least n) was already durable when the message arrived.
struct SinkLog {
  std::vector<std::int64_t> seen;
  std::vector<bool> durable;
};

class Sink : public Object {
 public:
  Sink(MemoryEngine* engine, SinkLog* log) : engine_(engine), log_(log) {}
  void got(std::int64_t n) {
    log_->seen.push_back(n);
    log_->durable.push_back(stored_count(*engine_) >= n);
  }
  VATIC_METHODS(Sink, got)

 private:
  MemoryEngine* engine_;
  SinkLog* log_;
};

class Notifier : public Persistent {
 public:
  // Writes the count, then tells the sink (twice: the order must hold).
  std::int64_t bump(Ref<Sink> sink) {
    std::int64_t n = count_.get() + 1;
    count_.set(n);
    sink.send<&Sink::got>(n);
    sink.send<&Sink::got>(n);
    return n;
  }
  // Writes, tells the sink, then throws: all of it rolls back.
  std::int64_t bump_then_fail(Ref<Sink> sink) {
    count_.set(count_.get() + 100);
    sink.send<&Sink::got>(-1);
    throw VatError(ErrorKind::failed, "changed my mind");
  }
  // Writes, tells the sink, resolves a waiter, then crashes its activation:
  // the message and the resolve roll back with the writes.
  std::int64_t bump_then_crash(Ref<Sink> sink) {
    count_.set(count_.get() + 100);
    sink.send<&Sink::got>(-1);
    for (auto& r : waiting_) r.resolve(-1);
    waiting_.clear();
    crash("on purpose");
  }
  // A promise settled by a later bump_and_settle (activation state only).
  Promise<std::int64_t> next() {
    auto [p, r] = make_promise<std::int64_t>();
    waiting_.push_back(std::move(r));
    return p;
  }
  std::int64_t bump_and_settle() {
    std::int64_t n = count_.get() + 1;
    count_.set(n);
    for (auto& r : waiting_) r.resolve(n);
    waiting_.clear();
    return n;
  }
  // Writes, then awaits an answer to what it sent: the message cannot wait
  // for the end of the call.
  Task<std::int64_t> bump_and_ask(Ref<Teller> teller) {
    count_.set(count_.get() + 1);
    std::int64_t n = co_await teller.send<&Teller::wait>();
    count_.set(count_.get() + n);
    co_return count_.get();
  }
  VATIC_METHODS(Notifier, bump, bump_then_fail, bump_then_crash, next, bump_and_settle, bump_and_ask)

 private:
  Cell<std::int64_t> count_{this, "count", 0};
  std::vector<Resolver<std::int64_t>> waiting_;
};

class OutputGate : public ::testing::Test {
 protected:
  OutputGate() { host->register_kind<Notifier>({.name = "notifier", .version = 1}); }

  ManualClock clock;
  Vat vat{VatOptions{.name = "output-gate", .clock = &clock}};
  std::shared_ptr<MemoryEngine> engine = std::make_shared<MemoryEngine>();
  std::unique_ptr<Host> host = std::make_unique<Host>(vat, engine, HostOptions{.name = "h1", .idle = 10s});
  SinkLog sink;
  Ref<Sink> sink_ref = vat.make<Sink>(engine.get(), &sink);
};

TEST_F(OutputGate, MessagesACallSendsArriveOnlyAfterItsWritesAreDurable) {
  Ref<Notifier> x = host->object<Notifier>("x");
  Promise<std::int64_t> a = x.send<&Notifier::bump>(sink_ref);
  Promise<std::int64_t> b = x.send<&Notifier::bump>(sink_ref);
  vat.run_until_idle();
  ASSERT_TRUE(a.ready() && b.ready());
  EXPECT_EQ(a.value(), 1);
  EXPECT_EQ(b.value(), 2);
  EXPECT_EQ(sink.seen, (std::vector<std::int64_t>{1, 1, 2, 2}));
  // Each message found the write of the call that sent it already durable
  // (one commit may carry both calls' writes).
  EXPECT_EQ(sink.durable, (std::vector<bool>{true, true, true, true})) << "a message overtook its call's commit";
}

TEST_F(OutputGate, ACallThatThrowsSendsNothing) {
  Ref<Notifier> x = host->object<Notifier>("x");
  Promise<std::int64_t> bad = x.send<&Notifier::bump_then_fail>(sink_ref);
  Promise<std::int64_t> good = x.send<&Notifier::bump>(sink_ref);
  vat.run_until_idle();
  ASSERT_TRUE(bad.is_broken());
  ASSERT_TRUE(good.ready());
  EXPECT_EQ(good.value(), 1) << "the failed call's write rolled back";
  EXPECT_EQ(sink.seen, (std::vector<std::int64_t>{1, 1})) << "the failed call's message was sent";
  EXPECT_EQ(host->stats().rolled_back, 1u);
}

// spec/persistence.md 10: a call that crashes its activation rolls back like
// one that throws: what it sent never arrives, and a promise it resolved
// breaks with the rollback rather than being dropped.
TEST_F(OutputGate, ACallThatCrashesItsActivationSendsNothingAndItsResolvesBreak) {
  Ref<Notifier> x = host->object<Notifier>("x");
  Promise<std::int64_t> waiter = x.send<&Notifier::next>();
  vat.run_until_idle();
  Promise<std::int64_t> bad = x.send<&Notifier::bump_then_crash>(sink_ref);
  vat.run_until_idle();
  ASSERT_TRUE(bad.is_broken());
  EXPECT_TRUE(sink.seen.empty()) << "the crashed call's message was sent";
  ASSERT_TRUE(waiter.is_broken());
  EXPECT_NE(waiter.error().reason.find("rolled back"), std::string::npos) << waiter.error().reason;
  EXPECT_EQ(stored_count(*engine), 0);
}

TEST_F(OutputGate, APromiseACallResolvesSettlesOnlyAfterItsWritesAreDurable) {
  Ref<Notifier> x = host->object<Notifier>("x");
  Promise<std::int64_t> waiter = x.send<&Notifier::next>();
  vat.run_until_idle();
  ASSERT_FALSE(waiter.ready());
  std::optional<bool> durable_when_settled;
  waiter.then([&](std::int64_t n) { durable_when_settled = stored_count(*engine) >= n; });
  x.send<&Notifier::bump_and_settle>();
  vat.run_until_idle();
  ASSERT_TRUE(waiter.ready());
  EXPECT_EQ(waiter.value(), 1);
  ASSERT_TRUE(durable_when_settled.has_value());
  EXPECT_TRUE(*durable_when_settled) << "the promise settled before the write that it reports was durable";
}

TEST_F(OutputGate, ACallThatAwaitsWhatItSentIsNotHeldBack) {
  Ref<Notifier> x = host->object<Notifier>("x");
  Ref<Teller> teller = vat.make<Teller>();
  Promise<std::int64_t> p = x.send<&Notifier::bump_and_ask>(teller);
  vat.run_until_idle();
  ASSERT_FALSE(p.ready());
  teller.send<&Teller::release>(std::int64_t{41});
  vat.run_until_idle();
  ASSERT_TRUE(p.ready());
  EXPECT_EQ(p.value(), 42);
  EXPECT_EQ(stored_count(*engine), 42);
}

TEST_F(OutputGate, MessagesOfACallWhoseCommitFailsAreNeverSent) {
  Ref<Notifier> x = host->object<Notifier>("x");
  engine->fail_commits(1);
  Promise<std::int64_t> p = x.send<&Notifier::bump>(sink_ref);
  vat.run_until_idle();
  ASSERT_TRUE(p.is_broken());
  EXPECT_EQ(p.error().kind, ErrorKind::disconnected);
  EXPECT_TRUE(sink.seen.empty()) << "a message left although the writes it follows were lost";
  // The object serves again from its committed state, and its messages flow.
  Promise<std::int64_t> q = x.send<&Notifier::bump>(sink_ref);
  vat.run_until_idle();
  ASSERT_TRUE(q.ready());
  EXPECT_EQ(q.value(), 1);
  EXPECT_EQ(sink.seen, (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(sink.durable, (std::vector<bool>{true, true}));
}

}  // namespace
}  // namespace vatic::persist::test
