// Supervision, monitors and timeouts seen from another vat: a reference to a
// supervised child held by another vat, or imported over CapTP, designates the
// child's slot and keeps working after a crash; monitors set across a session
// fire when the incarnation crashes, the object is gone, the session ends or
// the peer process is killed; deadlines over CapTP settle a call exactly once.
//
//   VatGroup:    vat g1 [Client] --far ref--> vat g0 [Supervisor -> "w" Worker]
//   One process: vat a --unix socket or memory pipe--> vat b [Home; Supervisor -> "worker"]
//   Processes:   T --tcp or unix--> B (captp_test_peer)
//                T --tcp--> B --unix--> C   (T reaches C's objects through B)
//
// In-process vats are driven from the test thread until what a test waits for
// has happened or a generous deadline passes; child processes are always
// reaped (PeerProcess).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "captp/memory_pipe.h"
#include "tests/captp/captp_objects.h"
#include "tests/captp/peer_objects.h"
#include "tests/captp/process_util.h"
#include "vat/monitor.h"
#include "vat/supervise/supervisor.h"
#include "vat/vatic.h"

namespace vatic::test {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// Resolvers of calls a worker keeps waiting, held outside the incarnation so
// that a test can answer them after the crash (late answers). Touched only by
// the worker's vat.
using Parked = std::vector<Resolver<std::int64_t>>;

class Worker : public Object {
 public:
  Worker(Parked* parked, int* starts) : parked_(parked) { ++*starts; }
  std::int64_t inc() { return ++n_; }
  std::int64_t get() const { return n_; }
  std::int64_t boom(std::string why) { throw std::runtime_error("kaput: " + why); }
  Promise<std::int64_t> slow() {
    auto [p, r] = make_promise<std::int64_t>();
    parked_->push_back(std::move(r));
    return p;
  }
  VATIC_METHODS(Worker, inc, get, boom, slow)

 private:
  Parked* parked_;
  std::int64_t n_ = 0;
};

// An object of b that is not supervised.
class Thing : public Object {
 public:
  std::int64_t ping() const { return 1; }
  VATIC_METHODS(Thing, ping)
};

// Vat b's bootstrap object.
class Home : public Object {
 public:
  explicit Home(Ref<Worker> worker) : worker_(std::move(worker)) {}
  Ref<Worker> worker() const { return worker_; }
  Ref<Thing> thing() { return vat().make<Thing>(); }
  VATIC_METHODS(Home, worker, thing)

 private:
  Ref<Worker> worker_;
};

// Holds a far reference to a worker of another vat, across turns.
class Client : public Object {
 public:
  void adopt(Ref<Worker> w) { w_ = std::move(w); }
  Ref<Worker> worker() const { return w_; }
  VATIC_METHODS(Client, adopt, worker)

 private:
  Ref<Worker> w_;
};

// --- What a promise settled to, and how many times (once, or it is a bug).
// Written by the promise's vat, read by the test thread.
template <class T>
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  int settled = 0;
  std::optional<T> value;
  std::optional<Error> error;

  int count() {
    std::lock_guard lock(mu);
    return settled;
  }
  // For promises of a vat on another thread.
  bool wait(Duration limit = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return settled > 0; });
  }
  Error err() {
    std::lock_guard lock(mu);
    return error.value_or(Error{ErrorKind::failed, "(did not break)"});
  }
  void settle(std::optional<T> v, std::optional<Error> e) {
    std::lock_guard lock(mu);
    ++settled;
    value = std::move(v);
    error = std::move(e);
    cv.notify_all();
  }
};

// Call on p's vat (a turn of it, or the test thread for a standalone vat).
template <class T>
std::shared_ptr<Seen<T>> watch(const Promise<T>& p) {
  auto s = std::make_shared<Seen<T>>();
  p.then([s](const T& v) { s->settle(v, std::nullopt); }, [s](const Error& e) { s->settle(std::nullopt, e); });
  return s;
}

// Runs f as a turn of a vat of a group; returns its result.
template <class F>
auto in(Vat& vat, F f) {
  return vat.submit(std::move(f)).get();
}

void expect_restarted(const Error& e, std::string_view cause) {
  EXPECT_EQ(e.kind, ErrorKind::disconnected) << to_string(e);
  EXPECT_TRUE(contains(e.reason, "restarted, retry is safe")) << e.reason;
  EXPECT_TRUE(contains(e.reason, cause)) << e.reason;
}

// --- Another vat of the process holds the reference.

struct Group {
  Parked parked;   // g0's; emptied by g0 before the vats go
  int starts = 0;  // g0's
  VatGroup g{2, "g"};
  Portable<Supervisor> sup;
  Portable<Worker> worker;
  Portable<Client> client;  // lives in g1

  Group() {
    in(g[0], [&] {
      auto s = g[0].make<Supervisor>(SupervisorOptions{.name = "g0-sup", .intensity = 100});
      auto w =
          start_child<Worker>(s, ChildSpec{.id = "w", .start = [this] { return g[0].make<Worker>(&parked, &starts); }});
      sup = portable(s);
      worker = portable(w);
    });
    in(g[1], [&] {
      auto c = g[1].make<Client>();
      c.call<&Client::adopt>(worker.take());
      client = portable(c);
    });
  }
  ~Group() {
    in(g[0], [&] { parked.clear(); });
  }
  template <class F>
  auto on_client(F f) {
    return in(g[1], [&] { return watch(f(client.take().call<&Client::worker>())); });
  }
  std::int64_t value_of(const std::shared_ptr<Seen<std::int64_t>>& s) {
    EXPECT_TRUE(s->wait()) << "the call did not settle";
    EXPECT_FALSE(s->error) << to_string(s->err());
    return s->value.value_or(-1);
  }
};

TEST(SupervisionAcrossVats, AFarReferenceReachesTheNewIncarnationAfterACrash) {
  Group t;
  auto inc = [](Ref<Worker> w) { return w.send<&Worker::inc>(); };
  EXPECT_EQ(t.value_of(t.on_client(inc)), 1);
  EXPECT_EQ(t.value_of(t.on_client(inc)), 2);
  auto watched = in(t.g[1], [&] { return watch(monitor(t.worker.take())); });
  EXPECT_EQ(t.value_of(t.on_client(inc)), 3);  // the monitor has not fired
  EXPECT_EQ(watched->count(), 0);

  auto crash = t.on_client([](Ref<Worker> w) { return w.send<&Worker::boom>("from g1"); });
  ASSERT_TRUE(crash->wait());
  EXPECT_EQ(crash->err().kind, ErrorKind::failed);
  EXPECT_EQ(crash->err().reason, "kaput: from g1");
  ASSERT_TRUE(watched->wait()) << "the monitor did not fire on the crash";
  EXPECT_EQ(watched->value->kind, ErrorKind::disconnected);
  EXPECT_TRUE(contains(watched->value->reason, "kaput: from g1")) << watched->value->reason;

  EXPECT_EQ(t.value_of(t.on_client(inc)), 1);  // fresh state, same reference
  EXPECT_EQ(in(t.g[1], [&] { return t.client.take().call<&Client::worker>().kind(); }), RefKind::far);
  EXPECT_EQ(in(t.g[0], [&] { return t.starts; }), 2);
}

TEST(SupervisionAcrossVats, CallsInFlightFromAnotherVatBreakSayingRetryIsSafe) {
  Group t;
  auto slow = t.on_client([](Ref<Worker> w) { return w.send<&Worker::slow>(); });
  auto crash = t.on_client([](Ref<Worker> w) { return w.send<&Worker::boom>("mid-flight"); });
  // Sent after the crash in E-order: it reaches the old incarnation's queue
  // (and breaks like the call in flight) or the new one (and sees fresh state).
  auto queued = t.on_client([](Ref<Worker> w) { return w.send<&Worker::inc>(); });
  ASSERT_TRUE(slow->wait());
  ASSERT_TRUE(slow->error) << "the call in flight was answered: " << *slow->value;
  expect_restarted(slow->err(), "kaput: mid-flight");
  ASSERT_TRUE(crash->wait());
  EXPECT_EQ(crash->err().reason, "kaput: mid-flight");
  ASSERT_TRUE(queued->wait());
  bool queued_answered = !queued->error;
  if (queued_answered)
    EXPECT_EQ(*queued->value, 1);
  else
    expect_restarted(queued->err(), "kaput: mid-flight");

  // The old incarnation's late answer is dropped: nothing settles twice.
  auto late = [&] {
    for (auto& r : t.parked) r.resolve(7);
    return t.parked.size();
  };
  EXPECT_EQ(in(t.g[0], late), 1u);
  auto retry = t.on_client([](Ref<Worker> w) { return w.send<&Worker::inc>(); });
  EXPECT_EQ(t.value_of(retry), queued_answered ? 2 : 1);
  EXPECT_EQ(slow->count(), 1);
  EXPECT_EQ(slow->err().kind, ErrorKind::disconnected);
}

// --- Two vats over CapTP in one process. A pipe end the test can cut without a goodbye
// (no close frame): the connection is lost, as when a peer's host vanishes.
// `*cut` is the inner stream while a channel owns this one.
class Severable final : public captp::Stream {
 public:
  Severable(std::unique_ptr<captp::Stream> s, std::shared_ptr<captp::Stream*> cut)
      : s_(std::move(s)), cut_(std::move(cut)) {
    *cut_ = s_.get();
  }
  ~Severable() override { *cut_ = nullptr; }
  void async_read_some(boost::asio::mutable_buffer b, captp::IoHandler h) override {
    s_->async_read_some(b, std::move(h));
  }
  void async_write(std::vector<boost::asio::const_buffer> b, captp::IoHandler h) override {
    s_->async_write(std::move(b), std::move(h));
  }
  void close() override { s_->close(); }
  std::string describe() const override { return s_->describe(); }

 private:
  std::unique_ptr<captp::Stream> s_;
  std::shared_ptr<captp::Stream*> cut_;
};

// What b's objects write to, until the vats go.
struct Counts {
  int starts = 0;
};

// Two vats with nodes on the test thread (TwoVats); b serves a Home whose
// worker is a supervised child of b.
struct Pair : Counts, TwoVats {
  TempDir dir{"vatic-sup"};
  std::shared_ptr<captp::Stream*> pipe_end = std::make_shared<captp::Stream*>(nullptr);
  Parked parked;        // b's
  Ref<Supervisor> sup;  // b's
  Ref<Worker> worker;   // b's own reference to the slot

  explicit Pair(captp::NodeOptions o = {}) : TwoVats(o) {
    sup = vb.make<Supervisor>(SupervisorOptions{.name = "b-sup", .intensity = 1000});
    worker = start_child<Worker>(
        sup, ChildSpec{.id = "worker", .start = [this] { return vb.make<Worker>(&parked, &starts); }});
    b->set_bootstrap(vb.make<Home>(worker));
  }

  Ref<Home> connect_unix() { return a->connect<Home>(b->id(), b->listen(dir.unix_address("b.sock"))); }
  Ref<Home> connect_pipe() {
    auto [ea, eb] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(eb));
    return a->connect<Home>(b->id(), std::make_unique<Severable>(std::move(ea), pipe_end));
  }
  void run_for(Duration d) {
    run_until([] { return false; }, d);
  }
  captp::SessionStats a_stats() const { return a->sessions().at(0).stats; }
  captp::SessionStats b_stats() const { return b->sessions().at(0).stats; }
  // Whether both sides forgot every call: nothing asked, nothing owed.
  bool calls_forgotten(Duration limit = 5s) {
    return run_until([&] { return a_stats().questions == 0 && b_stats().answers == 0; }, limit);
  }
};

TEST(SupervisionOverCapTP, TheImportOfAChildsSlotKeepsWorkingAfterACrash) {
  Pair t;
  Ref<Home> home = t.connect_unix();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 1);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 2);
  Error e = t.error_of(w.send<&Worker::boom>("remote"));
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "kaput: remote");
  EXPECT_EQ(w.kind(), RefKind::far);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 1);  // the new incarnation
  EXPECT_EQ(t.starts, 2);
  // Still one export for the slot: asked again, it is the same import.
  Ref<Worker> again = t.get(home.send<&Home::worker>());
  EXPECT_TRUE(again == w);
  EXPECT_EQ(t.get(again.send<&Worker::inc>()), 2);
  EXPECT_EQ(t.b_stats().exports, 2u);  // Home and the slot
}

TEST(SupervisionOverCapTP, PipelinedCallsReachTheNewIncarnationAndThoseInFlightBreakOnce) {
  Pair t;
  Ref<Home> home = t.connect_pipe();
  // Nothing has been answered yet: every call below rides on a promise.
  Promise<Ref<Worker>> w = home.send<&Home::worker>();
  Promise<std::int64_t> one = w.send<&Worker::inc>();
  auto waiting = watch(w.send<&Worker::slow>());
  Promise<std::int64_t> crash = w.send<&Worker::boom>("pipelined");
  EXPECT_EQ(t.get(one), 1);
  EXPECT_EQ(t.error_of(crash).reason, "kaput: pipelined");
  ASSERT_TRUE(t.run_until([&] { return waiting->count() > 0; }));
  expect_restarted(waiting->err(), "kaput: pipelined");
  // A fresh pipelined chain and the old promise both reach the new incarnation.
  EXPECT_EQ(t.get(home.send<&Home::worker>().send<&Worker::inc>()), 1);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 2);
  // The late answer to the old incarnation's call is dropped: it was
  // answered (broken) once, and the call is forgotten on both sides.
  ASSERT_EQ(t.parked.size(), 1u);
  t.parked[0].resolve(7);
  EXPECT_EQ(t.get(w.send<&Worker::get>()), 2);  // after the late answer in b's order
  t.run_for(50ms);
  EXPECT_EQ(waiting->count(), 1);
  EXPECT_FALSE(waiting->value);
  EXPECT_TRUE(t.calls_forgotten());
  EXPECT_EQ(t.starts, 2);
}

TEST(SupervisionOverCapTP, AChildStoppedForGoodBreaksTheImportAndFiresItsMonitor) {
  Pair t;
  Ref<Home> home = t.connect_pipe();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  Promise<Error> m = monitor(w);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 1);
  t.get(t.sup.send<&Supervisor::terminate_child>("worker"));
  ASSERT_TRUE(t.run_until([&] { return !m.pending(); }));
  EXPECT_EQ(m.value().kind, ErrorKind::disconnected);
  EXPECT_TRUE(contains(m.value().reason, "was terminated")) << m.value().reason;
  EXPECT_EQ(t.error_of(w.send<&Worker::inc>()).kind, ErrorKind::disconnected);
}

// --- Monitors across a session.

TEST(MonitorOverCapTP, FiresWhenTheRemoteIncarnationCrashesAndThenWatchesTheNextOne) {
  Pair t;
  Ref<Home> home = t.connect_pipe();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  Promise<Error> first = monitor(w);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 1);  // E-order: the monitor is set on b
  EXPECT_TRUE(first.pending());
  (void)w.send<&Worker::boom>("watched");
  ASSERT_TRUE(t.run_until([&] { return !first.pending(); }));
  EXPECT_EQ(first.value().kind, ErrorKind::disconnected);
  EXPECT_TRUE(contains(first.value().reason, "kaput: watched")) << first.value().reason;

  Promise<Error> second = monitor(w);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 1);
  t.run_for(20ms);
  EXPECT_TRUE(second.pending());
}

TEST(MonitorOverCapTP, DoesNotKeepTheRemoteObjectAliveAndFiresWhenItIsGone) {
  Pair t;
  Ref<Home> home = t.connect_pipe();
  Ref<Thing> thing = t.get(home.send<&Home::thing>());
  std::size_t with_thing = t.vb.live_objects();
  Promise<Error> m = monitor(thing);
  EXPECT_EQ(t.get(thing.send<&Thing::ping>()), 1);
  EXPECT_TRUE(m.pending());
  thing = Ref<Thing>();  // only the monitor is left
  EXPECT_TRUE(t.run_until([&] { return t.vb.live_objects() == with_thing - 1; }))
      << "the monitor kept the remote object alive";
  ASSERT_TRUE(t.run_until([&] { return !m.pending(); }));
  EXPECT_EQ(m.value().kind, ErrorKind::disconnected);
  EXPECT_TRUE(contains(m.value().reason, "object gone")) << m.value().reason;
  EXPECT_TRUE(t.calls_forgotten());
  EXPECT_EQ(t.b_stats().exports, 1u);  // Home only
}

TEST(MonitorOverCapTP, FiresWhenTheSessionIsClosed) {
  Pair t;
  Ref<Home> home = t.connect_unix();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  Promise<Error> on_home = monitor(home), on_worker = monitor(w);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 1);
  EXPECT_TRUE(on_home.pending() && on_worker.pending());
  t.b->disconnect(t.a->id(), "maintenance");
  ASSERT_TRUE(t.run_until([&] { return !on_home.pending() && !on_worker.pending(); }));
  for (auto* m : {&on_home, &on_worker}) {
    EXPECT_EQ(m->value().kind, ErrorKind::disconnected);
    EXPECT_TRUE(contains(m->value().reason, "maintenance")) << m->value().reason;
  }
}

TEST(MonitorOverCapTP, FiresWhenTheConnectionIsLostWithoutAGoodbye) {
  Pair t;
  Ref<Home> home = t.connect_pipe();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  Promise<Error> m = monitor(w);
  auto hung = w.send<&Worker::slow>();
  ASSERT_TRUE(t.run_until([&] { return t.parked.size() == 1; }));
  EXPECT_TRUE(m.pending());
  ASSERT_NE(*t.pipe_end, nullptr);
  (*t.pipe_end)->close();
  ASSERT_TRUE(t.run_until([&] { return !m.pending(); }));
  EXPECT_EQ(m.value().kind, ErrorKind::disconnected);
  EXPECT_EQ(t.error_of(hung).kind, ErrorKind::disconnected);
  EXPECT_TRUE(t.run_until([&] { return t.a->sessions().empty() && t.b->sessions().empty(); }));
  EXPECT_EQ(t.starts, 1);  // losing the link is not a crash of the child
}

// Like a local monitor (tests/vat/monitor_test.cpp), a dropped remote one
// must not pile up questions on the asker and answers on the exporter.
// (A `then` listener used to keep the __whenBroken question observed; the
// monitor's own listener now wants it only while the monitor is held.)
TEST(MonitorOverCapTP, DroppedMonitorsDoNotPileUp) {
  captp::NodeOptions o;
  o.session.cancel_sweep = 1ms;
  Pair t(o);
  Ref<Home> home = t.connect_pipe();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  for (int i = 0; i < 200; ++i) (void)monitor(w);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 1);
  EXPECT_TRUE(t.calls_forgotten(3s)) << "questions " << t.a_stats().questions << ", answers " << t.b_stats().answers;
}

// A monitor is an answer that stays pending while its target lives, so it
// must not count as a call b has yet to answer: b holds a's further calls
// back once `max_answers` are unanswered (flow control), and monitors never
// finish.
// (Monitor answers used to count toward the read pause and could stall the
// session for good; they are now counted, and capped, on their own.)
TEST(MonitorOverCapTP, HeldMonitorsDoNotStallTheSession) {
  captp::NodeOptions o;
  o.session.max_answers = 8;
  Pair t(o);
  Ref<Home> home = t.connect_pipe();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  std::vector<Promise<Error>> held;
  for (int i = 0; i < 8; ++i) held.push_back(monitor(w));
  ASSERT_TRUE(t.run_until([&] { return t.b_stats().answers == 8; }));
  Promise<std::int64_t> after = w.send<&Worker::inc>();
  EXPECT_TRUE(t.run_until([&] { return !after.pending(); }, 3s)) << "b held a's call back for good";
}

// --- Deadlines over CapTP.

TEST(TimeoutOverCapTP, BreaksOverloadedAtTheDeadlineAndTheLateAnswerIsDropped) {
  Pair t;
  Ref<Home> home = t.connect_unix();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  auto start = SteadyClock::now();
  auto seen = watch(with_timeout(w.send<&Worker::slow>(), 100ms));
  ASSERT_TRUE(t.run_until([&] { return seen->count() > 0; }));
  EXPECT_GE(SteadyClock::now() - start, 90ms);
  EXPECT_EQ(seen->err().kind, ErrorKind::overloaded) << to_string(seen->err());
  ASSERT_TRUE(t.run_until([&] { return t.parked.size() == 1; }));
  t.parked[0].resolve(41);
  EXPECT_EQ(t.get(w.send<&Worker::inc>()), 1);  // its return came after the late one
  t.run_for(50ms);
  EXPECT_EQ(seen->count(), 1);
  EXPECT_FALSE(seen->value);
  EXPECT_TRUE(t.calls_forgotten());
}

// A call whose deadline passed is of no more interest: as for a dropped
// promise, its question should be finished (the callee's answer slot freed)
// even if the callee never answers.
// (with_timeout used to follow the call's promise for good; its listener now
// stops wanting the answer at the deadline, so the question is finished.)
TEST(TimeoutOverCapTP, ACallPastItsDeadlineIsNoLongerAskedFor) {
  captp::NodeOptions o;
  o.session.cancel_sweep = 1ms;
  Pair t(o);
  Ref<Home> home = t.connect_pipe();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  auto seen = watch(with_timeout(w.send<&Worker::slow>(), 20ms));
  ASSERT_TRUE(t.run_until([&] { return seen->count() > 0; }));
  EXPECT_EQ(seen->err().kind, ErrorKind::overloaded);
  EXPECT_TRUE(t.calls_forgotten(3s)) << "questions " << t.a_stats().questions << ", answers " << t.b_stats().answers;
}

// Deadlines around the round trip: whichever comes first, the answer or the
// deadline, each call settles exactly once.
TEST(TimeoutOverCapTP, EveryCallSettlesExactlyOnceWhicheverComesFirst) {
  Pair t;
  Ref<Home> home = t.connect_pipe();
  Ref<Worker> w = t.get(home.send<&Home::worker>());
  std::vector<std::shared_ptr<Seen<std::int64_t>>> seen;
  for (int i = 0; i < 300; ++i) seen.push_back(watch(with_timeout(w.send<&Worker::get>(), i * 20us)));
  auto all_settled = [&] {
    for (auto& s : seen)
      if (s->count() == 0) return false;
    return true;
  };
  ASSERT_TRUE(t.run_until(all_settled));
  t.run_for(50ms);  // past every deadline
  for (auto& s : seen) {
    EXPECT_EQ(s->count(), 1);
    if (s->value) {
      EXPECT_EQ(*s->value, 0);
    } else {
      EXPECT_EQ(s->err().kind, ErrorKind::overloaded) << to_string(s->err());
    }
  }
  EXPECT_TRUE(t.calls_forgotten());
}

// --- Monitors on a peer process killed with SIGKILL.

std::vector<std::string> listen_on(const std::string& at) { return {"--listen", at, "--idle-ms", "20000"}; }

// Fired promptly: the kernel closes a killed process's sockets at once. The
// bound is loose so that a loaded machine does not make it flaky.
constexpr Duration kPromptly = 5s;

void expect_monitors_fire_when_killed(const std::string& listen_at) {
  PeerProcess peer(listen_on(listen_at));
  TestVat t;
  Ref<PeerEcho> b = t.connect(peer);
  Ref<PeerEcho> n = t.get(b.send<&PeerEcho::next>());
  Promise<Error> on_b = monitor(b), on_n = monitor(n);
  Promise<std::int64_t> hung = b.send<&PeerEcho::hang>();
  ASSERT_EQ(t.get(n.send<&PeerEcho::echo>(1)), 1);  // E-order: the peer holds both monitors
  ASSERT_EQ(t.get(b.send<&PeerEcho::echo>(2)), 2);
  EXPECT_TRUE(on_b.pending() && on_n.pending() && hung.pending());

  peer.kill_now();
  auto killed = SteadyClock::now();
  ASSERT_TRUE(t.run_until([&] { return !on_b.pending() && !on_n.pending(); }, kPromptly))
      << "the monitors did not fire within kPromptly of the kill";
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - killed);
  ::testing::Test::RecordProperty("monitor_fired_ms", static_cast<int>(took.count()));
  for (auto* m : {&on_b, &on_n}) EXPECT_EQ(m->value().kind, ErrorKind::disconnected) << to_string(m->value());
  EXPECT_EQ(t.error_of(hung).kind, ErrorKind::disconnected);
  EXPECT_EQ(b.kind(), RefKind::broken);
  EXPECT_TRUE(t.node->sessions().empty());
}

TEST(MonitorAcrossProcesses, FiresPromptlyWhenThePeerIsKilled) {
  TempDir dir{"vatic-mon"};
  for (const std::string& at : {std::string("127.0.0.1:0"), dir.unix_address("b.sock")}) {
    SCOPED_TRACE(at);
    expect_monitors_fire_when_killed(at);
  }
}

// T's monitors on C's objects go through B: killing C ends B's session with
// C, which breaks the questions B forwarded, which fires T's monitors. B and
// T's session with it live on.
TEST(MonitorAcrossProcesses, FiresWhenAPeerTwoHopsAwayIsKilled) {
  TempDir dir{"vatic-mon"};
  PeerProcess c(listen_on(dir.unix_address("c.sock")));
  std::vector<std::string> b_args = listen_on("127.0.0.1:0");
  b_args.insert(b_args.end(), {"--connect", c.connect_arg()});
  PeerProcess b_proc(b_args);
  TestVat t;
  Ref<PeerEcho> b = t.connect(b_proc);
  Ref<PeerEcho> c_root = t.get(b.send<&PeerEcho::third>());
  Ref<PeerEcho> c_obj = t.get(b.send<&PeerEcho::third_next>());
  Promise<Error> on_root = monitor(c_root), on_obj = monitor(c_obj), on_b = monitor(b);
  ASSERT_EQ(t.get(c_root.send<&PeerEcho::echo>(1)), 1);
  ASSERT_EQ(t.get(c_obj.send<&PeerEcho::echo>(2)), 2);
  EXPECT_TRUE(on_root.pending() && on_obj.pending());

  c.kill_now();
  ASSERT_TRUE(t.run_until([&] { return !on_root.pending() && !on_obj.pending(); }, kPromptly));
  for (auto* m : {&on_root, &on_obj}) EXPECT_EQ(m->value().kind, ErrorKind::disconnected) << to_string(m->value());
  EXPECT_EQ(t.get(b.send<&PeerEcho::echo>(3)), 3);
  EXPECT_TRUE(on_b.pending());
}

}  // namespace
}  // namespace vatic::test
