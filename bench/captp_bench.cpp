// captp_bench: CapTP between two processes over real sockets (unix and TCP),
// on the workloads of the Cap'n Proto peer (bench/peers/capnp_peer_client.cpp),
// plus the floors our targets are stated against (raw socket ping-pong,
// single-core ChaCha20-Poly1305).
//
//   captp_bench             runs every workload
//   captp_bench NAME        runs only the metrics named NAME or starting with NAME
//   captp_bench --smoke     every workload with tiny counts (the figures mean nothing)
//   captp_bench --list      lists the metric names
//   captp_bench --spin-us N the client's and the server's spin before blocking
//                           (default: the vat's own default, 50 us)
//   captp_bench --pin C,S   pins the client to CPU C and each server to CPU S
//                           (the metric names stay the same)
//   captp_bench --serve ADDR   the server: what the client forks and execs
//
// The client starts a fresh server process per transport (fork + exec of this
// binary with --serve); the server prints "<vatid> <address>" on one line and
// serves a Bench object as its bootstrap until it is killed. The client kills
// and reaps it when done, on failure, on a signal or a timeout; the server also
// dies with its parent (PR_SET_PDEATHSIG).
//
// stdout carries one JSON object per line and nothing else:
//   {"metric": NAME, "value": N, "unit": U}
// Progress and diagnostics go to stderr; a failure prints why and exits 1.
// See bench/README.md for what each metric measures.
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
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>

#include "bench/alloc_count.h"
#include "bench/bench_util.h"
#include "bench/captp_bench.h"
#include "captp/identity.h"
#include "captp/node.h"
#include "vat/vatic.h"

// Named (not anonymous): the objects instantiate vat templates with external
// linkage (-Wsubobject-linkage).
namespace captp_bench {

using namespace vatic;
using namespace vatic::bench;

// --- Options and output -----------------------------------------------------

Duration g_spin = VatOptions{}.spin_before_block;
const char* g_self = "captp_bench";  // argv[0]
std::string g_exe;                   // this binary (exec'd as the server)
int g_pin[2] = {-1, -1};             // --pin C,S: the client's and the server's CPU

struct Usage {
  double cpu = 0;
  static Usage of(pid_t server) { return {cpu_seconds(getpid()) + cpu_seconds(server)}; }
};

// --- Workloads ----------------------------------------------------------------

struct Conn {
  Client& c;
  Server& server;
  Ref<Bench> b;
  std::string prefix;  // "captp.unix."
  double rtt_p50 = 0;
  std::string m(std::string_view name) const { return prefix + std::string(name); }
};

void echo_rtt(Conn& k) {
  const auto warm = scaled(2'000, 10), count = scaled(20'000, 100);
  std::vector<double> lat;
  lat.reserve(count);
  for (std::int64_t i = 0; i < warm + count; ++i) {
    auto t0 = BenchClock::now();
    std::int64_t r = k.c.await(k.b.send<&Bench::echo>(i));
    double us = micros_since(t0);
    if (r != i) die("echo returned " + std::to_string(r) + " for " + std::to_string(i));
    if (i >= warm) lat.push_back(us);
  }
  k.rtt_p50 = percentile(lat, 50);
  emit(k.m("echo_rtt_p50_us"), k.rtt_p50, "us");
  emit(k.m("echo_rtt_p99_us"), percentile(lat, 99), "us");
}

// N lanes; each sends its next call when its previous one is answered.
struct Lanes {
  Client* c;
  Ref<Bench> b;
  std::int64_t sent = 0, done = 0, total = 0;
  std::uint32_t bytes = 0;  // data(bytes) calls if set, echo otherwise
  Resolver<void> finished;
  void fail(const Error& e) { finished.reject(e); }
};

Task<void> lane(Lanes* w) {
  try {
    while (w->sent < w->total) {
      std::int64_t x = w->sent++;
      if (w->bytes) {
        // Checked in a continuation, which sees the MiB in place without taking it.
        std::size_t size = co_await w->b.send<&Bench::data>(w->bytes).then([](const Bytes& d) { return d.size(); });
        if (size != w->bytes) die("data returned " + std::to_string(size) + " bytes");
      } else {
        std::int64_t r = co_await w->b.send<&Bench::echo>(x);
        if (r != x) die("echo returned " + std::to_string(r) + " for " + std::to_string(x));
      }
      if (++w->done == w->total) w->finished.resolve();
      w->c->kick();
    }
  } catch (const VatError& e) {
    w->fail(e.error());
    w->c->kick();
  }
}

// Seconds from the first send to the last answer of `total` calls over `window` lanes.
double run_lanes(Client& c, const Ref<Bench>& b, int window, std::int64_t total, std::uint32_t bytes = 0) {
  Lanes w{&c, b, 0, 0, total, bytes, {}};
  Promise<void> finished;
  auto t0 = BenchClock::now();
  c.in_turn([&] {
    auto [p, r] = make_promise<void>();
    finished = std::move(p);
    w.finished = std::move(r);
    for (int i = 0; i < window; ++i) lane(&w);
  });
  c.drive_until([&] { return !finished.pending(); });
  double sec = seconds_since(t0);
  if (finished.is_broken()) throw VatError(finished.error());
  if (w.done != total) die("windowed run: " + std::to_string(w.done) + " of " + std::to_string(total) + " answered");
  return sec;
}

void echo_windows(Conn& k) {
  for (int window : {1, 16, 256, 1024}) {
    const std::int64_t total = window == 1 ? scaled(10'000, 200) : scaled(100'000, 2'000);
    run_lanes(k.c, k.b, window, scaled(5'000, 100));  // warm-up at the same window
    std::string w = "echo_window" + std::to_string(window);
    if (window == 256) {
      const std::int64_t counted = 2'048;
      std::uint64_t allocs;
      g_allocs = 0;
      g_count_allocs = true;
      run_lanes(k.c, k.b, window, counted);
      g_count_allocs = false;
      allocs = g_allocs;
      emit(k.m("client_allocs_per_call"), static_cast<double>(allocs) / counted, "allocs");
    }
    Usage u0 = Usage::of(k.server.pid);
    double sec = run_lanes(k.c, k.b, window, total);
    Usage u1 = Usage::of(k.server.pid);
    emit(k.m(w + "_calls_per_s"), static_cast<double>(total) / sec, "calls/s");
    emit(k.m(w + "_cpu_us_per_call"), (u1.cpu - u0.cpu) / static_cast<double>(total) * 1e6, "us");
  }
}

// The client's counters of its session with the server.
captp::SessionStats session_stats(const Conn& k) {
  for (const auto& s : k.c.node.sessions())
    if (s.peer == k.server.id) return s.stats;
  return {};
}

// 10 `next` then `echo` on the last reference, pipelined or each `next` awaited.
void chains(Conn& k) {
  constexpr int kHops = 10;
  const auto warm = scaled(100, 5), count = scaled(1'000, 20);
  std::vector<double> lat[2];
  for (int mode = 0; mode < 2; ++mode) {
    bool pipelined = mode == 0;
    lat[mode].reserve(count);
    captp::SessionStats before = session_stats(k);
    for (std::int64_t i = 0; i < warm + count; ++i) {
      auto t0 = BenchClock::now();
      std::int64_t r;
      if (pipelined) {
        Promise<Ref<Bench>> cur = k.b.send<&Bench::next>();
        for (int h = 1; h < kHops; ++h) cur = cur.send<&Bench::next>();
        r = k.c.await(cur.send<&Bench::echo>(i));
      } else {
        Ref<Bench> cur = k.b;
        for (int h = 0; h < kHops; ++h) cur = k.c.await(cur.send<&Bench::next>());
        r = k.c.await(cur.send<&Bench::echo>(i));
      }
      double us = micros_since(t0);
      if (r != i) die("chain: echo returned " + std::to_string(r) + " for " + std::to_string(i));
      if (i >= warm) lat[mode].push_back(us);
    }
    captp::SessionStats after = session_stats(k);
    auto per_chain = [&](std::uint64_t a, std::uint64_t b) { return static_cast<double>(a - b) / (warm + count); };
    progress("%schain10 %s: %.1f messages out and %.1f in per chain (client side)", k.prefix.c_str(),
             pipelined ? "pipelined" : "awaited", per_chain(after.messages_out, before.messages_out),
             per_chain(after.messages_in, before.messages_in));
  }
  k.c.vat.run_until_idle();
  if (auto imports = session_stats(k).imports; imports > 1)
    progress("%schains: %zu imports still held after the chains", k.prefix.c_str(), imports);
  double pip = percentile(lat[0], 50), awt = percentile(lat[1], 50);
  emit(k.m("chain10_pipelined_p50_us"), pip, "us");
  emit(k.m("chain10_awaited_p50_us"), awt, "us");
  emit(k.m("chain10_awaited_over_pipelined"), awt / pip, "x");
  if (k.rtt_p50 > 0) emit(k.m("chain10_pipelined_over_rtt"), pip / k.rtt_p50, "x");
}

void bulk(Conn& k) {
  const std::uint32_t n = 1u << 20;
  const auto count = scaled(400, 10);
  run_lanes(k.c, k.b, 1, scaled(20, 2), n);
  double sec = run_lanes(k.c, k.b, 1, count, n);
  emit(k.m("data1MiB_window1_MBps"), static_cast<double>(count) * n / sec / 1e6, "MB/s");
  sec = run_lanes(k.c, k.b, 4, count, n);
  emit(k.m("data1MiB_window4_MBps"), static_cast<double>(count) * n / sec / 1e6, "MB/s");
}

// `total` bytes through a ByteStream with its default window, in chunks of
// `chunk` copied from one buffer (as data() copies from its pattern).
Task<void> stream_out(Ref<ByteSink> sink, std::uint64_t total, const Bytes* chunk, StreamWindow window) {
  ByteStream out(std::move(sink), window);
  for (std::uint64_t sent = 0; sent < total; sent += chunk->size()) co_await out.write(Bytes(*chunk));
  co_await out.end();
}

// The upload direction of bulk data, streamed: 64 MiB to a sink on the
// server in 256 KiB chunks, never more than the window (4 chunks, 1 MiB)
// unacknowledged. Timed from the first write to end()'s answer.
void stream(Conn& k) {
  const std::uint64_t total = scaled<std::uint64_t>(std::uint64_t{64} << 20, std::uint64_t{1} << 20);
  Bytes chunk(std::size_t{256} << 10);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<std::uint8_t>(i * 131u + 7u);
  auto once = [&](std::uint64_t bytes, StreamWindow window = {}) {
    Ref<ByteSink> sink = k.c.await(k.b.send<&Bench::sink>());
    Promise<void> done;
    auto t0 = BenchClock::now();
    k.c.in_turn([&] { done = stream_out(sink, bytes, &chunk, window); });
    k.c.await(done);
    return seconds_since(t0);
  };
  once(total / 4);  // warm-up: buffers grown, pages touched
  emit(k.m("stream_64MiB_MBps"), static_cast<double>(total) / once(total) / 1e6, "MB/s");
  // For the README: the same stream with as many bytes in flight as
  // data1MiB_window4 has (4 MiB), to tell the window's share from the path's.
  const StreamWindow wide{.max_chunks = 16, .max_bytes = std::size_t{4} << 20};
  progress("%sstream 64 MiB, window 16 chunks / 4 MiB: %.1f MB/s", k.prefix.c_str(),
           static_cast<double>(total) / once(total, wide) / 1e6);
}

// Sequential: a new Node (same identity) dials, handshakes and gets one echo
// back. `lat` gets each one's time, `cpu` (if set) the client thread's CPU
// time from the dial through the Node's teardown.
void handshake_loop(Client& c, const Server& s, std::int64_t warm, std::int64_t count, std::vector<double>& lat,
                    std::vector<double>* cpu = nullptr) {
  captp::Identity base = captp::Identity::generate();
  for (std::int64_t i = 0; i < warm + count; ++i) {
    auto node = std::make_unique<captp::Node>(c.vat, captp::Identity::from_seed(base.seed()));
    bool counted = cpu && i == warm - 1;  // untimed: the last warm-up handshake of the CPU pass
    g_allocs = 0;
    g_count_allocs = counted;
    double cpu0 = thread_cpu_us();
    auto t0 = BenchClock::now();
    Ref<Bench> b = node->connect<Bench>(s.id, s.at);
    std::int64_t r = c.await(b.send<&Bench::echo>(i));
    double us = micros_since(t0);
    if (r != i) die("handshake: echo returned " + std::to_string(r));
    b = {};
    node.reset();
    c.vat.run_until_idle();
    g_count_allocs = false;
    if (counted)
      progress("handshake: %llu allocations in the client, dial to teardown",
               static_cast<unsigned long long>(g_allocs.load()));
    if (i < warm) continue;
    lat.push_back(us);
    if (cpu) cpu->push_back(thread_cpu_us() - cpu0);
  }
}

void handshakes(Conn& k) {
  const auto warm = scaled(20, 2), count = scaled(200, 10);
  std::vector<double> lat;
  handshake_loop(k.c, k.server, warm, count, lat);
  double sum = 0;
  for (double us : lat) sum += us;
  emit("captp.handshakes_per_s", static_cast<double>(count) / sum * 1e6, "handshakes/s");
  emit("captp.handshake_p50_us", percentile(lat, 50), "us");

  // CPU per handshake, without the polling before blocking that the figures
  // above include: a second server that blocks at once, and a client that
  // does not poll either.
  auto spin = std::exchange(g_spin, Duration::zero());
  Server quiet = start_server("unix:" + std::string(g_sockpath_quiet));
  g_spin = spin;
  std::vector<double> cpu;
  lat.clear();
  double server0 = cpu_seconds(quiet.pid);
  handshake_loop(k.c, quiet, warm, count, lat, &cpu);
  double server_us = (cpu_seconds(quiet.pid) - server0) * 1e6 / static_cast<double>(count + warm);
  emit("captp.handshake_client_cpu_us", percentile(cpu, 50), "us");
  emit("captp.handshake_server_cpu_us", server_us, "us");
}

// --- The table of workloads ------------------------------------------------------

struct Workload {
  std::vector<std::string> metrics;  // without the transport prefix for transport workloads
  std::function<void(Conn&)> run;
};

const std::vector<Workload>& transport_workloads() {
  static const std::vector<Workload> all = {
      {{"echo_rtt_p50_us", "echo_rtt_p99_us"}, echo_rtt},
      {{"echo_window1_calls_per_s", "echo_window16_calls_per_s", "echo_window256_calls_per_s",
        "echo_window1024_calls_per_s", "echo_window1_cpu_us_per_call", "echo_window16_cpu_us_per_call",
        "echo_window256_cpu_us_per_call", "echo_window1024_cpu_us_per_call", "client_allocs_per_call"},
       echo_windows},
      {{"chain10_pipelined_p50_us", "chain10_awaited_p50_us", "chain10_awaited_over_pipelined",
        "chain10_pipelined_over_rtt"},
       chains},
      {{"data1MiB_window1_MBps", "data1MiB_window4_MBps"}, bulk},
      {{"stream_64MiB_MBps"}, stream},
  };
  return all;
}
const Workload kHandshakes{{"captp.handshakes_per_s", "captp.handshake_p50_us", "captp.handshake_client_cpu_us",
                            "captp.handshake_server_cpu_us"},
                           handshakes};
const std::vector<std::string> kSodium = {"captp.sodium.chachapoly_64KiB_MBps",
                                          "captp.sodium.chachapoly_open_64KiB_MBps",
                                          "captp.sodium.chachapoly_1MiB_MBps"};
const char* const kTransports[] = {"unix", "tcp"};

std::string raw_prefix(std::string_view t) { return "captp.raw." + std::string(t) + ".pingpong_rtt_"; }

std::vector<std::string> all_metrics() {
  std::vector<std::string> out = kSodium;
  for (std::string_view t : kTransports) {
    out.push_back(raw_prefix(t) + "p50_us");
    out.push_back(raw_prefix(t) + "p99_us");
    for (const auto& w : transport_workloads())
      for (const auto& m : w.metrics) out.push_back("captp." + std::string(t) + "." + m);
    if (t == "unix") out.insert(out.end(), kHandshakes.metrics.begin(), kHandshakes.metrics.end());
  }
  for (auto& m : curve_metrics()) out.push_back(std::move(m));
  for (auto& m : handoff_metrics()) out.push_back(std::move(m));
  return out;
}

bool any_wanted(const std::vector<std::string>& metrics, const std::string& prefix = "") {
  return std::any_of(metrics.begin(), metrics.end(), [&](const std::string& m) { return wanted(prefix + m); });
}

template <class F>
void timed(const std::string& what, F f) {
  progress("%s ...", what.c_str());
  alarm(300);
  auto t0 = BenchClock::now();
  f();
  alarm(0);
  progress("  done in %.1f s", seconds_since(t0));
}

// One transport: a fresh server, one session to it, the wanted workloads.
void run_transport(Client& c, std::string_view t) {
  std::string prefix = "captp." + std::string(t) + ".";
  bool hs = t == "unix" && any_wanted(kHandshakes.metrics);
  bool any = hs || std::any_of(transport_workloads().begin(), transport_workloads().end(),
                               [&](const Workload& w) { return any_wanted(w.metrics, prefix); });
  if (wanted(raw_prefix(t))) timed(raw_prefix(t) + "*", [&] { raw_pingpong(t == "tcp"); });
  if (!any) return;
  Server server = start_server(t == "unix" ? "unix:" + std::string(g_sockpath) : "127.0.0.1:0");
  progress("server %d serves %s at %s", static_cast<int>(server.pid), server.id.to_text().c_str(),
           server.at.to_string().c_str());
  Conn k{c, server, c.node.connect<Bench>(server.id, server.at), prefix};
  try {
    timed(prefix + "connect", [&] { k.c.await(k.b.send<&Bench::echo>(-1)); });
    for (const auto& w : transport_workloads())
      if (any_wanted(w.metrics, prefix)) timed(prefix + w.metrics[0], [&] { w.run(k); });
    if (hs) timed(kHandshakes.metrics[0], [&] { kHandshakes.run(k); });
  } catch (const VatError& e) {
    die(prefix + "*: a call broke: " + to_string(e.error()));
  }
  k.b = {};
  c.node.disconnect(server.id, "done");
  c.vat.run_until_idle();
  kill_servers();
}

}  // namespace captp_bench

int main(int argc, char** argv) {
  using namespace captp_bench;
  g_self = argv[0];
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::optional<std::string_view> serve_at;
  ServeOptions serve_options;
  bool list = false;
  std::vector<std::string_view> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--smoke") {
      options().smoke = true;
    } else if (args[i] == "--list") {
      list = true;
    } else if (args[i] == "--handoff") {
      serve_options.handoff = true;
    } else if (args[i] == "--introduce" && i + 2 < args.size()) {
      serve_options.introduce_id = std::string(args[i + 1]);
      serve_options.introduce_at = std::string(args[i + 2]);
      i += 2;
    } else if ((args[i] == "--serve" || args[i] == "--spin-us" || args[i] == "--pin") && i + 1 < args.size()) {
      std::string v(args[i + 1]);
      if (args[i] == "--serve")
        serve_at = args[i + 1];
      else if (args[i] == "--spin-us")
        g_spin = std::chrono::microseconds(std::atoll(v.c_str()));
      else if (std::sscanf(v.c_str(), "%d,%d", &g_pin[0], &g_pin[1]) != 2)
        rest.push_back("--pin needs CLIENT_CPU,SERVER_CPU");
      ++i;
    } else {
      rest.push_back(args[i]);
    }
  }
  if (serve_at) return serve(*serve_at, serve_options);
  if (rest.size() > 1 || (rest.size() == 1 && rest[0].starts_with("-"))) {
    std::fprintf(stderr, "usage: %s [--list | [--smoke] [--spin-us N] [--pin C,S] [METRIC-OR-PREFIX]]\n", argv[0]);
    return rest.size() == 1 && (rest[0] == "-h" || rest[0] == "--help") ? 0 : 2;
  }
  if (list) {
    for (const auto& m : all_metrics()) std::printf("%s\n", m.c_str());
    return 0;
  }
  if (rest.size() == 1) options().filter = rest[0];
  if (!any_wanted(all_metrics())) {
    std::fprintf(stderr, "captp_bench: no metric named or starting with '%s' (see --list)\n", options().filter.c_str());
    return 2;
  }
  // Resolved now (not "/proc/self/exe" in the child) so that the server also
  // runs under valgrind --trace-children=yes, which fakes this readlink only.
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  g_exe = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : std::string(argv[0]);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGALRM}) signal(sig, on_signal);
  signal(SIGPIPE, SIG_IGN);
  std::atexit(cleanup);

  if (!mkdtemp(g_sockdir)) die(std::string("mkdtemp: ") + std::strerror(errno));
  std::snprintf(g_sockpath, sizeof g_sockpath, "%s/captp.sock", g_sockdir);
  std::snprintf(g_sockpath_quiet, sizeof g_sockpath_quiet, "%s/quiet.sock", g_sockdir);
  std::snprintf(g_sockpath_curves, sizeof g_sockpath_curves, "%s/curves.sock", g_sockdir);
  std::snprintf(g_sockpath_host, sizeof g_sockpath_host, "%s/host.sock", g_sockdir);
  std::snprintf(g_sockpath_intro, sizeof g_sockpath_intro, "%s/intro.sock", g_sockdir);
  raise_fd_limit();
  pin_to_cpu(g_pin[0]);  // the server pins itself after the fork
  auto t0 = BenchClock::now();
  try {
    if (any_wanted(kSodium)) timed("captp.sodium.*", sodium_aead);
    Client client;
    for (std::string_view t : kTransports) run_transport(client, t);
    if (any_wanted(curve_metrics())) timed("captp.curve.*, captp.mem.*", [&] { run_curves(client); });
    if (any_wanted(handoff_metrics())) timed("captp.handoff.*", run_handoff);
  } catch (const std::exception& e) {
    die(e.what());
  }
  cleanup();
  progress("all done in %.1f s", seconds_since(t0));
  return 0;
}
