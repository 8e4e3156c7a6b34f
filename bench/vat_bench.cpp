// vat_bench: throughput and latency of the vat layer, on the workloads of the
// Cap'n Proto peer (bench/peers/capnp_peer_inproc.cpp).
//
//   vat_bench             runs every workload
//   vat_bench NAME        runs only the metrics named NAME or starting with NAME
//   vat_bench --smoke     runs every workload with tiny counts (a check that
//                         they all work; the figures mean nothing)
//   vat_bench --list      lists the metric names
//
// stdout carries one JSON object per line and nothing else:
//   {"metric": NAME, "value": N, "unit": U}
// Progress and diagnostics go to stderr. See bench/README.md for what each
// metric measures and which peer figure it compares with.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <pthread.h>
#include <sched.h>

#include "bench/alloc_count.h"
#include "bench/bench_util.h"
#include "bench/vat_bench.h"
#include "vat/vatic.h"

// Named (not anonymous): the objects instantiate vat templates with external
// linkage (-Wsubobject-linkage).
namespace vat_bench {

using namespace vatic;
using namespace vatic::bench;

// Counts heap allocations (on every thread) while alive.
class AllocCounter {
 public:
  AllocCounter() {
    g_allocs.store(0, std::memory_order_relaxed);
    g_count_allocs.store(true, std::memory_order_seq_cst);
  }
  ~AllocCounter() { g_count_allocs.store(false, std::memory_order_seq_cst); }
  std::uint64_t count() const { return g_allocs.load(std::memory_order_relaxed); }
};

// ---------------------------------------------------------------------------
// Helpers.

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "vat_bench: check failed: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

void progress(const char* fmt, auto... args) {
  std::fprintf(stderr, "[vat_bench] ");
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}

// ---------------------------------------------------------------------------
// Objects.

class Counter : public Object {
 public:
  std::int64_t inc(std::int64_t by) { return n_ += by; }
  std::int64_t get() const { return n_; }
  VATIC_METHODS(Counter, inc, get)

 private:
  std::int64_t n_ = 0;
};

// The peer's Bench interface, minus `data`: `echo` copies its argument back,
// `next` returns a reference to a new object every time.
class Node : public Object {
 public:
  std::int64_t echo(std::int64_t x) { return x; }
  Ref<Node> next() { return vat().make<Node>(); }
  VATIC_METHODS(Node, echo, next)
};

// ---------------------------------------------------------------------------
// Local workloads: one vat, driven by the main thread.

void bench_local_send() {
  const std::int64_t kBatch = scaled(10'000, 1'000);
  const std::int64_t kTotal = scaled(10'000'000, 10'000);
  const std::int64_t kWarm = scaled(500'000, 2'000);
  Vat vat;
  Ref<Counter> c = vat.make<Counter>();
  auto batch = [&] {
    vat.post([&c, kBatch] {
      for (std::int64_t i = 0; i < kBatch; ++i) c.send<&Counter::inc>(1);
    });
    if (vat.run_until_idle() != static_cast<std::size_t>(kBatch + 1)) fail("local.send: batch did not run every send");
  };
  for (std::int64_t i = 0; i < kWarm; i += kBatch) batch();
  std::uint64_t allocs;
  {
    AllocCounter counter;
    batch();
    allocs = counter.count();
  }
  std::int64_t before = c.call<&Counter::get>();
  auto t0 = BenchClock::now();
  for (std::int64_t i = 0; i < kTotal; i += kBatch) batch();
  double sec = seconds_since(t0);
  if (c.call<&Counter::get>() - before != kTotal) fail("local.send: counter does not match the sends");
  progress("local.send: %lld sends in %.3f s, %.2f allocations per send", static_cast<long long>(kTotal), sec,
           static_cast<double>(allocs) / kBatch);
  emit("local.send_per_s", static_cast<double>(kTotal) / sec, "msg/s");
  emit("local.send_allocs_per_msg", static_cast<double>(allocs) / kBatch, "allocs");
}

// The flight recorder's cost on local.send: the same workload with recording
// off and on, alternated in one vat (the machine's speed drifts between runs
// more than the effect measured); the best round of each counts.
void bench_recorder_overhead() {
  const std::int64_t kBatch = scaled(10'000, 1'000);
  const std::int64_t kRound = scaled(2'000'000, 10'000);
  const int kRounds = scaled(7, 2);
  Vat vat;
  Ref<Counter> c = vat.make<Counter>();
  auto batch = [&] {
    vat.post([&c, kBatch] {
      for (std::int64_t i = 0; i < kBatch; ++i) c.send<&Counter::inc>(1);
    });
    if (vat.run_until_idle() != static_cast<std::size_t>(kBatch + 1)) fail("recorder: batch did not run every send");
  };
  auto rate = [&](bool on) {
    vat.set_recording(on);
    for (std::int64_t i = 0; i < scaled<std::int64_t>(200'000, 1'000); i += kBatch) batch();  // warm the ring
    auto t0 = BenchClock::now();
    for (std::int64_t i = 0; i < kRound; i += kBatch) batch();
    return static_cast<double>(kRound) / seconds_since(t0);
  };
  double best_off = 0, best_on = 0;
  for (int r = 0; r < kRounds; ++r) {
    best_off = std::max(best_off, rate(false));
    best_on = std::max(best_on, rate(true));
  }
  if (!vat.recorder() || vat.recorder()->recorded() == 0) fail("recorder: nothing was recorded");
  double pct = (best_off - best_on) / best_off * 100.0;
  progress("recorder: best of %d rounds of %lld sends: off %.0f/s, on %.0f/s", kRounds, static_cast<long long>(kRound),
           best_off, best_on);
  emit("recorder.local.send_per_s_on", best_on, "msg/s");
  emit("recorder.local.send_per_s_off", best_off, "msg/s");
  emit("recorder.overhead_pct", pct, "%");
}

void bench_local_call() {
  const std::int64_t kTotal = scaled(50'000'000, 100'000);
  Vat vat;
  Ref<Counter> c = vat.make<Counter>();
  volatile std::int64_t step = 1;  // opaque to the optimizer
  const std::int64_t by = step;
  for (std::int64_t i = 0; i < scaled(1'000'000, 1'000); ++i) keep(c.call<&Counter::inc>(by));
  std::int64_t before = c.call<&Counter::get>();
  auto t0 = BenchClock::now();
  for (std::int64_t i = 0; i < kTotal; ++i) {
    std::int64_t r = c.call<&Counter::inc>(by);
    keep(r);
  }
  double sec = seconds_since(t0);
  if (c.call<&Counter::get>() - before != kTotal * by) fail("local.call: counter does not match the calls");
  emit("local.call_per_s", static_cast<double>(kTotal) / sec, "calls/s");
}

// Sequential eventual sends, each awaited before the next (capnp's
// LocalClient echo_seq workload).
void bench_local_seq() {
  const auto kWarm = scaled(20'000, 100), kCount = scaled(200'000, 1'000);
  Vat vat;
  Ref<Node> n = vat.make<Node>();
  std::vector<double> lat;
  lat.reserve(kCount);
  for (std::int64_t i = 0; i < kWarm + kCount; ++i) {
    auto t0 = BenchClock::now();
    std::int64_t r = vat.wait(n.send<&Node::echo>(i));
    double us = micros_since(t0);
    if (r != i) fail("local.seq: echo mismatch");
    if (i >= kWarm) lat.push_back(us);
  }
  auto t0 = BenchClock::now();
  for (std::int64_t i = 0; i < kCount; ++i)
    if (vat.wait(n.send<&Node::echo>(i)) != i) fail("local.seq: echo mismatch");
  double sec = seconds_since(t0);
  emit("local.seq_rtt_p50_us", percentile(lat, 50), "us");
  emit("local.seq_calls_per_s", kCount / sec, "calls/s");
}

// A chain of 10 `next` and one `echo` (the peer's chain10 workload).
void bench_local_chain(bool pipelined) {
  const int kHops = 10;
  const auto kWarm = scaled(1'000, 10), kCount = scaled(10'000, 100);
  Vat vat;
  Ref<Node> root = vat.make<Node>();
  std::vector<double> lat;
  lat.reserve(kCount);
  for (std::int64_t i = 0; i < kWarm + kCount; ++i) {
    auto t0 = BenchClock::now();
    std::int64_t r;
    if (pipelined) {
      Promise<Ref<Node>> cur = root.send<&Node::next>();
      for (int k = 1; k < kHops; ++k) cur = cur.send<&Node::next>();
      r = vat.wait(cur.send<&Node::echo>(i));
    } else {
      Ref<Node> cur = root;
      for (int k = 0; k < kHops; ++k) cur = vat.wait(cur.send<&Node::next>());
      r = vat.wait(cur.send<&Node::echo>(i));
    }
    double us = micros_since(t0);
    if (r != i) fail("local.chain: echo mismatch");
    if (i >= kWarm) lat.push_back(us);
  }
  vat.run_until_idle();
  if (vat.live_objects() != 1)
    progress("local.chain: %zu objects alive after the chains (expected 1)", vat.live_objects());
  emit(pipelined ? "local.chain10_pipelined_us" : "local.chain10_awaited_us", percentile(lat, 50), "us");
}

// ---------------------------------------------------------------------------
// Cross-vat workloads: VatGroup(2); the Node lives in vat 0, the client runs
// as coroutines in vat 1 through a far reference.

// Sequential round trips; per-call latencies go to `out` (after `warm`).
Task<std::int64_t> rtt_loop(Ref<Node> e, std::int64_t warm, std::int64_t count, std::vector<double>* out) {
  for (std::int64_t i = 0; i < warm + count; ++i) {
    auto t0 = BenchClock::now();
    std::int64_t r = co_await e.send<&Node::echo>(i);
    double us = micros_since(t0);
    if (r != i) fail("crossvat.rtt: echo mismatch");
    if (i >= warm) out->push_back(us);
  }
  co_return count;
}

struct Window {
  Ref<Node> e;
  std::int64_t sent = 0, done = 0, total = 0;
  Resolver<void> finished;
};

// One lane: on each answer, the next call, until `total` were sent.
Task<void> lane(Window* w) {
  while (w->sent < w->total) {
    std::int64_t x = w->sent++;
    std::int64_t r = co_await w->e.send<&Node::echo>(x);
    if (r != x) fail("crossvat.window: echo mismatch");
    if (++w->done == w->total) w->finished.resolve();
  }
}

// Keeps `window` calls outstanding until `total` completed; returns calls/s.
// The Window lives in this coroutine's frame, on vat 1, and outlives the lanes:
// this frame resumes in a later turn than the one in which the last lane ends.
Task<double> window_run(Ref<Node> e, int window, std::int64_t total) {
  auto [done, finished] = make_promise<void>();
  Window w{std::move(e), 0, 0, total, std::move(finished)};
  auto t0 = BenchClock::now();
  for (int i = 0; i < window; ++i) lane(&w);
  co_await done;
  double sec = seconds_since(t0);
  if (w.done != total) fail("crossvat.window: count mismatch");
  co_return static_cast<double>(total) / sec;
}

Task<std::int64_t> chain_loop(Ref<Node> root, bool pipelined, std::int64_t warm, std::int64_t count,
                              std::vector<double>* out) {
  constexpr int kHops = 10;
  for (std::int64_t i = 0; i < warm + count; ++i) {
    auto t0 = BenchClock::now();
    std::int64_t r;
    if (pipelined) {
      Promise<Ref<Node>> cur = root.send<&Node::next>();
      for (int k = 1; k < kHops; ++k) cur = cur.send<&Node::next>();
      r = co_await cur.send<&Node::echo>(i);
    } else {
      Ref<Node> cur = root;
      for (int k = 0; k < kHops; ++k) cur = co_await cur.send<&Node::next>();
      r = co_await cur.send<&Node::echo>(i);
    }
    double us = micros_since(t0);
    if (r != i) fail("crossvat.chain: echo mismatch");
    if (i >= warm) out->push_back(us);
  }
  co_return count;
}

// Two vats on two threads and a Node in vat 0, packed for vat 1.
// Where the two vat threads run. Unpinned, the scheduler decides, and its
// choice flips between runs: two threads that take turns often share one CPU
// (a round trip is then two same-CPU wake-ups, ~10 us here), and sometimes sit
// on two (two cross-CPU wake-ups, ~45 us). The pinned variants are stable.
enum class Placement { unpinned, split, one_cpu };

struct Pair {
  explicit Pair(Placement where = Placement::unpinned) {
    if (where != Placement::unpinned)
      for (int i = 0; i < 2; ++i) g[i].submit([i, where] { pin_to_cpu(where == Placement::split ? i : 0); }).get();
    node = g[0].submit([this] { return portable(g[0].make<Node>()); }).get();
  }

  static void pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set))
      progress("could not pin a vat thread to CPU %d: %s", cpu, std::strerror(err));
  }

  VatGroup g{2, "bench"};
  Portable<Node> node;

  template <class F>
  auto in_client(F f) {
    return g[1].submit([this, f = std::move(f)]() mutable { return f(node.take()); }).get();
  }
};

void bench_crossvat_rtt(const std::string& prefix, Placement where) {
  const auto kWarm = scaled(2'000, 10), kCount = scaled(20'000, 100);
  Pair p(where);
  std::vector<double> lat;
  lat.reserve(kCount);
  p.in_client([&](Ref<Node> e) { return rtt_loop(std::move(e), kWarm, kCount, &lat); });
  emit(prefix + "rtt_p50_us", percentile(lat, 50), "us");
  emit(prefix + "rtt_p99_us", percentile(lat, 99), "us");
}

// Windowed calls: a warm-up run to calibrate, then a timed run sized to take
// about `target_s` seconds, within [min_total, max_total] calls.
void bench_crossvat_window(int window, std::int64_t warm, std::int64_t min_total, std::int64_t max_total,
                           double target_s, const std::string& metric, Placement where = Placement::unpinned) {
  Pair p(where);
  double rate = p.in_client([&](Ref<Node> e) { return window_run(std::move(e), window, warm); });
  if (window == 1024 && where == Placement::unpinned) {
    AllocCounter counter;
    const std::int64_t kCounted = scaled(20'000, 2'048);
    p.in_client([&](Ref<Node> e) { return window_run(std::move(e), window, kCounted); });
    double per_call = static_cast<double>(counter.count()) / kCounted;
    progress("%s: %.2f allocations per call (both vats)", metric.c_str(), per_call);
    emit("crossvat.allocs_per_call", per_call, "allocs");
  }
  auto total = std::clamp(static_cast<std::int64_t>(rate * target_s), min_total, max_total);
  progress("%s: warm-up %.0f calls/s, timing %lld calls", metric.c_str(), rate, static_cast<long long>(total));
  double cps = p.in_client([&](Ref<Node> e) { return window_run(std::move(e), window, total); });
  emit(metric, cps, "calls/s");
}

void bench_crossvat_chain(bool pipelined) {
  const auto kWarm = scaled(100, 5), kCount = scaled(1'000, 20);
  Pair p;
  std::vector<double> lat;
  lat.reserve(kCount);
  p.in_client([&](Ref<Node> e) { return chain_loop(std::move(e), pipelined, kWarm, kCount, &lat); });
  emit(pipelined ? "crossvat.chain10_pipelined_us" : "crossvat.chain10_awaited_us", percentile(lat, 50), "us");
}

// The recorder's cost where a delivery costs microseconds, not nanoseconds:
// window-1024 calls from vat 1 into vat 0, both on CPU 0, recording in vat 0
// off and on in turn; the best round of each.
void bench_recorder_crossvat() {
  const std::int64_t kCalls = scaled(200'000, 4'096);
  const int kRounds = scaled(4, 1);
  Pair p(Placement::one_cpu);
  p.in_client([&](Ref<Node> e) { return window_run(std::move(e), 1024, scaled(50'000, 2'048)); });
  double best[2] = {0, 0};
  for (int r = 0; r < kRounds; ++r)
    for (int on = 0; on < 2; ++on) {
      p.g[0].submit([&p, on] { p.g[0].set_recording(on != 0); }).get();
      double cps = p.in_client([&](Ref<Node> e) { return window_run(std::move(e), 1024, kCalls); });
      best[on] = std::max(best[on], cps);
    }
  progress("recorder.crossvat: best of %d rounds: off %.0f calls/s, on %.0f calls/s", kRounds, best[0], best[1]);
  emit("recorder.crossvat.onecpu.window1024_calls_per_s_on", best[1], "calls/s");
  emit("recorder.crossvat.onecpu.window1024_calls_per_s_off", best[0], "calls/s");
  emit("recorder.crossvat.overhead_pct", (best[0] - best[1]) / best[0] * 100.0, "%");
}

// ---------------------------------------------------------------------------

struct Workload {
  std::vector<std::string_view> metrics;
  std::function<void()> run;
};

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> all = {
      {{"local.send_per_s", "local.send_allocs_per_msg"}, bench_local_send},
      {{"local.call_per_s"}, bench_local_call},
      {{"local.mem.object_bytes"}, bench_object_memory},
      {{"local.curve.objects_1_send_per_s", "local.curve.objects_1000_send_per_s",
        "local.curve.objects_10000_send_per_s", "local.curve.objects_100000_send_per_s", "local.objects_1M_send_per_s"},
       bench_object_curve},
      {{"recorder.local.send_per_s_on", "recorder.local.send_per_s_off", "recorder.overhead_pct"},
       bench_recorder_overhead},
      {{"recorder.crossvat.onecpu.window1024_calls_per_s_on", "recorder.crossvat.onecpu.window1024_calls_per_s_off",
        "recorder.crossvat.overhead_pct"},
       bench_recorder_crossvat},
      {{"local.seq_rtt_p50_us", "local.seq_calls_per_s"}, bench_local_seq},
      {{"supervise.restart_us", "supervise.restart_p99_us"}, bench_supervise_restart},
      {{"supervise.restarts_per_s"}, bench_supervise_rate},
      {{"local.chain10_pipelined_us"}, [] { bench_local_chain(true); }},
      {{"local.chain10_awaited_us"}, [] { bench_local_chain(false); }},
      {{"crossvat.rtt_p50_us", "crossvat.rtt_p99_us"}, [] { bench_crossvat_rtt("crossvat.", Placement::unpinned); }},
      {{"crossvat.window1_calls_per_s"},
       [] {
         bench_crossvat_window(1, scaled(2'000, 100), scaled(10'000, 200), scaled(200'000, 200), 1.5,
                               "crossvat.window1_calls_per_s");
       }},
      {{"crossvat.window1024_calls_per_s", "crossvat.allocs_per_call"},
       [] {
         bench_crossvat_window(1024, scaled(50'000, 2'048), scaled(200'000, 4'096), scaled(2'000'000, 4'096), 3.0,
                               "crossvat.window1024_calls_per_s");
       }},
      {{"crossvat.chain10_pipelined_us"}, [] { bench_crossvat_chain(true); }},
      {{"crossvat.chain10_awaited_us"}, [] { bench_crossvat_chain(false); }},
      // The same with the vat threads pinned: on two CPUs (split) or both on CPU 0.
      {{"crossvat.split.rtt_p50_us", "crossvat.split.rtt_p99_us"},
       [] { bench_crossvat_rtt("crossvat.split.", Placement::split); }},
      {{"crossvat.split.window1024_calls_per_s"},
       [] {
         bench_crossvat_window(1024, scaled(50'000, 2'048), scaled(200'000, 4'096), scaled(2'000'000, 4'096), 2.0,
                               "crossvat.split.window1024_calls_per_s", Placement::split);
       }},
      {{"crossvat.onecpu.rtt_p50_us", "crossvat.onecpu.rtt_p99_us"},
       [] { bench_crossvat_rtt("crossvat.onecpu.", Placement::one_cpu); }},
      {{"crossvat.onecpu.window1024_calls_per_s"},
       [] {
         bench_crossvat_window(1024, scaled(50'000, 2'048), scaled(200'000, 4'096), scaled(2'000'000, 4'096), 2.0,
                               "crossvat.onecpu.window1024_calls_per_s", Placement::one_cpu);
       }},
  };
  return all;
}

}  // namespace vat_bench

int main(int argc, char** argv) {
  using namespace vat_bench;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--smoke") {
    options().smoke = true;
    args.erase(args.begin());
  }
  if (args.size() > 1 || (args.size() == 1 && (args[0] == "-h" || args[0] == "--help"))) {
    std::fprintf(stderr, "usage: %s [--list | [--smoke] [METRIC-OR-PREFIX]]\n", argv[0]);
    return args.size() > 1 ? 2 : 0;
  }
  if (args.size() == 1 && args[0] == "--list") {
    for (const auto& w : workloads())
      for (auto m : w.metrics) std::printf("%.*s\n", static_cast<int>(m.size()), m.data());
    return 0;
  }
  if (args.size() == 1) options().filter = args[0];

  bool any = false;
  auto t0 = BenchClock::now();
  for (const auto& w : workloads()) {
    if (!std::any_of(w.metrics.begin(), w.metrics.end(), wanted)) continue;
    any = true;
    auto t1 = BenchClock::now();
    progress("%.*s ...", static_cast<int>(w.metrics[0].size()), w.metrics[0].data());
    w.run();
    progress("  done in %.1f s", seconds_since(t1));
  }
  if (!any) {
    std::fprintf(stderr, "vat_bench: no metric named or starting with '%s' (see --list)\n", options().filter.c_str());
    return 2;
  }
  progress("all done in %.1f s", seconds_since(t0));
  return 0;
}
