// captp_bench: what its files share (captp_bench.cpp has the usage and the
// method). The floors (captp_bench_floors.cpp) are the figures our targets are
// stated against: a raw socket ping-pong and single-core ChaCha20-Poly1305.
// The server processes and the object they serve are in captp_bench_server.cpp.
// Everything runs on the bench's main thread (and the ping-pong's echo child).
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "bench/bench_util.h"
#include "captp/address.h"
#include "captp/identity.h"
#include "vat/vatic.h"

// Named (not anonymous): the objects instantiate vat templates with external
// linkage (-Wsubobject-linkage).
namespace captp_bench {

using namespace vatic;

extern Duration g_spin;     // --spin-us: both sides' polling before blocking
extern const char* g_self;  // argv[0]
extern std::string g_exe;   // this binary (exec'd as the server)
extern int g_pin[2];        // --pin C,S: the client's and the server's CPU

inline constexpr std::size_t kSockDirSize = sizeof "/tmp/captp_bench.XXXXXX";
extern char g_sockdir[kSockDirSize];              // the unix servers' sockets live here
extern char g_sockpath[kSockDirSize + 16];        // the unix server's
extern char g_sockpath_quiet[kSockDirSize + 16];  // the handshakes' second server (no polling)

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
  VATIC_METHODS(Bench, echo, next, data)
};

// The server: serves a Bench at `at` until SIGTERM (--serve ADDR).
int serve(std::string_view at);

struct Server {
  pid_t pid = -1;
  captp::VatId id;
  captp::Address at;
};

// Forks and execs `g_self --serve at`; returns what it reports on its first line.
Server start_server(const std::string& at);

// captp.T.pingpong_rtt_p50_us / _p99_us: 8-byte ping-pong over a raw socket.
void raw_pingpong(bool tcp);
// captp.sodium.*: single-core ChaCha20-Poly1305 seal and open rates.
void sodium_aead();

}  // namespace captp_bench
