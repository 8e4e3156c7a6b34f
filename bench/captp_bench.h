// captp_bench: what its files share (captp_bench.cpp has the usage and the
// method). The floors (captp_bench_floors.cpp) are the figures our targets are
// stated against: a raw socket ping-pong and single-core ChaCha20-Poly1305.
// The server processes and the object they serve are in captp_bench_server.cpp;
// the curves of cost against sessions and references in captp_bench_curves.cpp,
// which drives the same Client; the three-party handoff's figures in
// captp_bench_handoff.cpp. Everything runs on the bench's main thread (and the ping-pong's echo child).
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "captp/address.h"
#include "captp/identity.h"
#include "captp/node.h"
#include "vat/byte_stream.h"
#include "vat/vatic.h"

// Named (not anonymous): the objects instantiate vat templates with external
// linkage (-Wsubobject-linkage).
namespace captp_bench {

using namespace vatic;
using namespace vatic::bench;

extern Duration g_spin;     // --spin-us: both sides' polling before blocking
extern const char* g_self;  // argv[0]
extern std::string g_exe;   // this binary (exec'd as the server)
extern int g_pin[2];        // --pin C,S: the client's and the server's CPU

inline constexpr std::size_t kSockDirSize = sizeof "/tmp/captp_bench.XXXXXX";
extern char g_sockdir[kSockDirSize];               // the unix servers' sockets live here
extern char g_sockpath[kSockDirSize + 16];         // the unix server's
extern char g_sockpath_quiet[kSockDirSize + 16];   // the handshakes' second server (no polling)
extern char g_sockpath_curves[kSockDirSize + 16];  // the curves' servers (captp_bench_curves.cpp)
extern char g_sockpath_host[kSockDirSize + 16];    // the handoff's host C (captp_bench_handoff.cpp)
extern char g_sockpath_intro[kSockDirSize + 16];   // the handoff's introducer B

void progress(const char* fmt, auto... args) {
  std::fprintf(stderr, "[captp_bench] ");
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}

// Prints why on stderr, kills the servers, exits 1.
[[noreturn]] void die(const std::string& why);
// Kills and reaps the servers (async-signal-safe); cleanup() also removes the sockets.
void kill_servers() noexcept;
void cleanup() noexcept;
extern "C" void on_signal(int sig);

// --- The served object: the peer's Bench interface --------------------------

constexpr std::uint32_t kMaxData = 8u << 20;

// Takes a stream (vat/byte_sink.h) and keeps nothing of it: the stream's
// figure is the path's, not a disk's.
class DiscardSink final : public ByteSink {
 public:
  Promise<void> write(Bytes chunk) override {
    bytes_ += chunk.size();
    return Promise<void>::resolved();
  }
  Promise<void> end() override { return Promise<void>::resolved(); }
  void abort(std::string) override {}

 private:
  std::uint64_t bytes_ = 0;
};

class Bench : public Object {
 public:
  std::int64_t echo(std::int64_t x) { return x; }
  Ref<Bench> next() { return vat().make<Bench>(); }
  // n bytes copied from a pre-filled pattern, as the peer's data() does.
  Bytes data(std::uint32_t n) {
    static const Bytes pattern = [] {
      Bytes b(kMaxData);
      for (std::uint32_t i = 0; i < kMaxData; ++i) b[i] = static_cast<std::uint8_t>(i * 131u + 7u);
      return b;
    }();
    return Bytes(pattern.begin(), pattern.begin() + std::min(n, kMaxData));
  }
  // What the serving process holds, for the memory curves: the allocator's
  // live bytes and the resident set (bench_util.h). Answered by the process
  // measured, since only it can read its allocator.
  std::int64_t heap_bytes() { return static_cast<std::int64_t>(heap_in_use_bytes()); }
  std::int64_t rss() { return static_cast<std::int64_t>(rss_bytes()); }
  // A new sink for one stream.
  Ref<ByteSink> sink() { return vat().make<DiscardSink>(); }
  VATIC_METHODS(Bench, echo, next, data, heap_bytes, rss, sink)
};

// The handoff's introducer B (--introduce): hands out its reference to the
// host C's Bench, which callers get handed off (spec/captp.md 11) or proxied.
class Introducer : public Object {
 public:
  explicit Introducer(Ref<Bench> host) : host_(std::move(host)) {}
  Ref<Bench> target() { return host_; }
  std::int64_t ping() { return 1; }
  VATIC_METHODS(Introducer, target, ping)

 private:
  Ref<Bench> host_;
};

// --- The client: one Vat and one Node for the whole run ----------------------

struct Client {
  explicit Client(captp::NodeOptions options = {}) : node(vat, captp::Identity::generate(), options) {}

  Vat vat{VatOptions{.name = "client", .spin_before_block = g_spin}};
  captp::Node node;

  Resolver<void> tick_;  // kick() resolves it: ends drive()'s blocking wait

  // Drives the loop until done() holds, the way Vat::run does: it polls
  // (yielding between polls) as long as something happened within the last
  // spin time, then calls block(), which blocks until the next event.
  template <class D, class B>
  void drive(D done, B block) {
    for (;;) {
      vat.run_until_idle();
      for (auto until = BenchClock::now() + g_spin; !done() && BenchClock::now() < until;) {
        std::this_thread::yield();
        if (vat.run_until_idle() > 0) until = BenchClock::now() + g_spin;
      }
      if (done()) return;
      block();
      if (done()) return;
    }
  }
  // Until `p` settles; throws VatError if it broke.
  template <class T>
  T await(Promise<T> p) {
    drive([&] { return !p.pending(); }, [&] { vat.wait(p); });
    return vat.wait(std::move(p));
  }
  // Until done(); blocking waits end at the next kick().
  template <class D>
  void drive_until(D done) {
    drive(done, [&] {
      Promise<void> tick;
      in_turn([&] {
        auto [p, r] = make_promise<void>();
        tick = std::move(p);
        tick_ = std::move(r);
      });
      if (!done()) vat.wait(tick);
    });
  }
  void kick() { tick_.resolve(); }
  // Runs f in a turn (coroutines and make_promise need one).
  template <class F>
  void in_turn(F f) {
    vat.post(std::move(f));
    vat.run_until_idle();
  }
};

// How a server runs: with three-party handoff offered (--handoff), and as the
// introducer of another server's Bench (--introduce ID ADDR) rather than
// serving its own.
struct ServeOptions {
  bool handoff = false;
  std::string introduce_id, introduce_at;
};

// The server: serves a Bench (or an Introducer) at `at` until SIGTERM (--serve ADDR).
int serve(std::string_view at, const ServeOptions& o = {});

struct Server {
  pid_t pid = -1;
  captp::VatId id;
  captp::Address at;
};

// Forks and execs `g_self --serve at` (with `o`); returns what it reports on its first line.
Server start_server(const std::string& at, const ServeOptions& o = {});

// Raises this process's open-file limit to its hard limit: a thousand
// sessions need a thousand sockets on each side (servers inherit it).
void raise_fd_limit();

// captp.curve.* and captp.mem.*: cost against the number of sessions and of
// exported references (captp_bench_curves.cpp).
std::vector<std::string> curve_metrics();
void run_curves(Client& c);

// captp.handoff.*: calls to an object handed off from B to C against the
// proxy and a plain session (captp_bench_handoff.cpp).
std::vector<std::string> handoff_metrics();
void run_handoff();

// captp.T.pingpong_rtt_p50_us / _p99_us: 8-byte ping-pong over a raw socket.
void raw_pingpong(bool tcp);
// captp.sodium.*: single-core ChaCha20-Poly1305 seal and open rates.
void sodium_aead();

}  // namespace captp_bench
