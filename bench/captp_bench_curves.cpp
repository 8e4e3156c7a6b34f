// captp_bench: how cost grows with work, over unix sockets.
//
//  - captp.curve.sessions_<n>_*: n clients (1, 10, 100, 1000), each with its
//    own identity and so its own encrypted session, on one server; together
//    they keep 1 024 echo calls outstanding (1024/n lanes each), so the
//    offered load stays the same and only the number of sessions grows. At
//    n = 1 this is captp.unix.echo_window1024. The clients share the bench's
//    vat and thread (one process multiplexing them, as a gateway would).
//  - captp.mem.*: on a fresh server, the allocator's live bytes (Bench::
//    heap_bytes, read by the server itself) before and after 1 000 more idle
//    sessions, and before and after 10 000 and 100 000 exported references
//    on one session (each `next()` answer is a new object the server exports
//    and the client imports and holds).
//
// The servers are captp_bench --serve processes on g_sockpath_curves; one at a
// time, killed when done (kill_servers).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/captp_bench.h"
#include "captp/identity.h"
#include "captp/node.h"
#include "vat/vatic.h"

namespace captp_bench {

using namespace vatic;
using namespace vatic::bench;

namespace {

constexpr std::size_t kSessionCounts[] = {1, 10, 100, 1'000};
constexpr std::size_t kExportCounts[] = {10'000, 100'000};
// Handshakes started at once: the server closes unix connections beyond 64
// still handshaking (NodeOptions::max_handshaking_per_address).
constexpr std::size_t kHandshakeBatch = 32;

std::string sessions_metric(std::size_t n, const char* what) {
  return "captp.curve.sessions_" + std::to_string(n) + "_" + what;
}

// One client: its own Node (identity), its session's bootstrap reference.
struct Session {
  std::unique_ptr<captp::Node> node;
  Ref<Bench> b;
};

// Opens sessions until `out` holds `n`, each proven by one echo.
void open_sessions(Client& c, const Server& s, std::vector<Session>& out, std::size_t n) {
  while (out.size() < n) {
    std::size_t first = out.size(), batch = std::min(n - first, kHandshakeBatch);
    std::vector<Promise<std::int64_t>> echoes;
    for (std::size_t i = 0; i < batch; ++i) {
      auto node = std::make_unique<captp::Node>(c.vat, captp::Identity::generate());
      Ref<Bench> b = node->connect<Bench>(s.id, s.at);
      echoes.push_back(b.send<&Bench::echo>(static_cast<std::int64_t>(first + i)));
      out.push_back({std::move(node), std::move(b)});
    }
    for (std::size_t i = 0; i < batch; ++i)
      if (c.await(std::move(echoes[i])) != static_cast<std::int64_t>(first + i)) die("session: echo answered wrongly");
  }
}

// Echo calls over many sessions: each lane sends its next call when its
// previous one is answered, until `total` were sent; every call's time from
// send to the lane's resumption is kept.
struct Load {
  Client* c;
  std::int64_t total;
  std::int64_t sent = 0, done = 0;
  std::vector<double> lat_us;
  Resolver<void> finished;
};

Task<void> session_lane(Load* w, Ref<Bench> b) {
  try {
    while (w->sent < w->total) {
      std::int64_t x = w->sent++;
      auto t0 = BenchClock::now();
      std::int64_t r = co_await b.send<&Bench::echo>(x);
      w->lat_us.push_back(micros_since(t0));
      if (r != x) die("curve: echo returned " + std::to_string(r) + " for " + std::to_string(x));
      if (++w->done == w->total) w->finished.resolve();
      w->c->kick();
    }
  } catch (const VatError& e) {
    w->finished.reject(e.error());
    w->c->kick();
  }
}

struct LoadResult {
  double calls_per_s = 0, p50_us = 0, p99_us = 0;
};

// `lanes` lanes spread evenly over the first `n` sessions.
LoadResult run_load(Client& c, const std::vector<Session>& sessions, std::size_t n, std::size_t lanes,
                    std::int64_t total) {
  Load w{&c, total};
  w.lat_us.reserve(static_cast<std::size_t>(total));
  Promise<void> finished;
  auto t0 = BenchClock::now();
  c.in_turn([&] {
    auto [p, r] = make_promise<void>();
    finished = std::move(p);
    w.finished = std::move(r);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t l = 0; l < lanes / n + (i < lanes % n ? 1 : 0); ++l) session_lane(&w, sessions[i].b);
  });
  c.drive_until([&] { return !finished.pending(); });
  double sec = seconds_since(t0);
  if (finished.is_broken()) throw VatError(finished.error());
  if (w.done != total) die("curve: " + std::to_string(w.done) + " of " + std::to_string(total) + " answered");
  return {static_cast<double>(total) / sec, percentile(w.lat_us, 50), percentile(w.lat_us, 99)};
}

void close_sessions(Client& c, std::vector<Session>& sessions) {
  for (auto& s : sessions) s.b = {};
  sessions.clear();  // each Node's destructor closes its session
  c.vat.run_until_idle();
}

void sessions_curve(Client& c) {
  const std::size_t lanes = scaled<std::size_t>(1'024, 16);
  Server s = start_server("unix:" + std::string(g_sockpath_curves));
  std::vector<Session> sessions;
  for (std::size_t n : kSessionCounts) {
    auto what = {"calls_per_s", "p50_us", "p99_us", "cpu_us_per_call"};
    if (std::none_of(what.begin(), what.end(), [&](const char* w) { return wanted(sessions_metric(n, w)); })) continue;
    const std::size_t live = options().smoke ? std::min<std::size_t>(n, 4) : n;
    auto t0 = BenchClock::now();
    open_sessions(c, s, sessions, live);
    progress("curve: %zu sessions open (%.2f s for the new ones)", live, seconds_since(t0));
    run_load(c, sessions, live, lanes, scaled<std::int64_t>(20'000, 100));  // warm-up
    double cpu0 = cpu_seconds(getpid()) + cpu_seconds(s.pid);
    const std::int64_t total = scaled<std::int64_t>(200'000, 400);
    LoadResult r = run_load(c, sessions, live, lanes, total);
    double cpu = cpu_seconds(getpid()) + cpu_seconds(s.pid) - cpu0;
    emit(sessions_metric(n, "calls_per_s"), r.calls_per_s, "calls/s");
    emit(sessions_metric(n, "p50_us"), r.p50_us, "us");
    emit(sessions_metric(n, "p99_us"), r.p99_us, "us");
    emit(sessions_metric(n, "cpu_us_per_call"), cpu / static_cast<double>(total) * 1e6, "us");
  }
  close_sessions(c, sessions);
  kill_servers();
}

// How many references the client's session with the first server imports.
std::size_t imports_of(const Session& s) {
  auto all = s.node->sessions();
  return all.empty() ? 0 : all.front().stats.imports;
}

void memory_curves(Client& c) {
  Server s = start_server("unix:" + std::string(g_sockpath_curves));
  std::vector<Session> sessions;
  open_sessions(c, s, sessions, 1);
  Ref<Bench> b = sessions[0].b;
  auto server_heap = [&] { return static_cast<double>(c.await(b.send<&Bench::heap_bytes>())); };
  auto server_rss = [&] { return static_cast<double>(c.await(b.send<&Bench::rss>())); };
  // Round trips for `for_how_long`: the client's cancellation sweep (every
  // 100 ms) sends the finishes that let both sides free answered questions,
  // so what is measured after it is what the references themselves hold.
  auto settle = [&](Duration for_how_long) {
    for (auto until = BenchClock::now() + for_how_long; BenchClock::now() < until;) c.await(b.send<&Bench::echo>(0));
  };

  // Idle sessions: handshake, one echo on the bootstrap, then nothing.
  const std::size_t idle = scaled<std::size_t>(1'000, 8);
  double heap0 = server_heap(), rss0 = server_rss(), mine0 = heap_in_use_bytes();
  open_sessions(c, s, sessions, 1 + idle);
  c.vat.run_until_idle();
  double heap1 = server_heap(), rss1 = server_rss(), mine1 = heap_in_use_bytes();
  auto per_idle = [&](double a, double b) { return (b - a) / static_cast<double>(idle); };
  progress(
      "mem: %zu idle sessions: server %.0f B each (allocator), %.0f B each (RSS); client %.0f B each "
      "(its Node included)",
      idle, per_idle(heap0, heap1), per_idle(rss0, rss1), per_idle(mine0, mine1));
  emit("captp.mem.idle_session_bytes", per_idle(heap0, heap1), "bytes");

  // Exports on the first session: `next()` answers, 1 024 in flight, held.
  std::vector<Ref<Bench>> held;
  held.reserve(scaled<std::size_t>(kExportCounts[1], kExportCounts[1] / 100));
  settle(std::chrono::milliseconds(scaled(300, 20)));
  heap0 = server_heap(), rss0 = server_rss(), mine0 = heap_in_use_bytes();
  for (std::size_t full : kExportCounts) {
    const std::size_t n = scaled<std::size_t>(full, full / 100);
    while (held.size() < n) {
      std::vector<Promise<Ref<Bench>>> answers;
      for (std::size_t i = 0; i < std::min<std::size_t>(1'024, n - held.size()); ++i)
        answers.push_back(b.send<&Bench::next>());
      for (auto& a : answers) held.push_back(c.await(std::move(a)));
    }
    settle(std::chrono::milliseconds(scaled(300, 20)));
    if (imports_of(sessions[0]) != n + 1)
      die("mem: the session imports " + std::to_string(imports_of(sessions[0])) + ", not " + std::to_string(n + 1));
    double heap = server_heap(), rss = server_rss(), mine = heap_in_use_bytes();
    auto per = [&](double a, double z) { return (z - a) / static_cast<double>(n); };
    progress("mem: %zu exports: server %.0f B each (allocator), %.0f B each (RSS); client %.0f B per import", n,
             per(heap0, heap), per(rss0, rss), per(mine0, mine));
    emit("captp.mem.export_bytes_" + std::to_string(full), per(heap0, heap), "bytes");
    emit("captp.mem.import_bytes_" + std::to_string(full), per(mine0, mine), "bytes");
  }
  // Dropping the imports releases the exports: the server's heap falls back
  // once the client has told it (drops, and finishes for the answers, which
  // leave on the session's cancellation sweep).
  held.clear();
  settle(std::chrono::milliseconds(scaled(300, 20)));
  progress("mem: released: the session imports %zu; the server's heap is %.0f B above where the exports began",
           imports_of(sessions[0]), server_heap() - heap0);
  b = {};
  close_sessions(c, sessions);
  kill_servers();
}

}  // namespace

std::vector<std::string> curve_metrics() {
  std::vector<std::string> out;
  for (std::size_t n : kSessionCounts)
    for (const char* what : {"calls_per_s", "p50_us", "p99_us", "cpu_us_per_call"})
      out.push_back(sessions_metric(n, what));
  out.push_back("captp.mem.idle_session_bytes");
  for (std::size_t n : kExportCounts) {
    out.push_back("captp.mem.export_bytes_" + std::to_string(n));
    out.push_back("captp.mem.import_bytes_" + std::to_string(n));
  }
  return out;
}

void run_curves(Client& c) {
  auto wanted_any = [](std::string_view prefix) {
    auto all = curve_metrics();
    return std::any_of(all.begin(), all.end(),
                       [&](const std::string& m) { return m.starts_with(prefix) && wanted(m); });
  };
  if (wanted_any("captp.curve.")) sessions_curve(c);
  if (wanted_any("captp.mem.")) memory_curves(c);
}

}  // namespace captp_bench
