// fs_bench: the capability layer's costs: verifying attenuated tokens, and
// reading and listing a directory served through sturdy refs over CapTP,
// against the bounds they are judged by (single-core ChaCha20-Poly1305, the
// same reads without CapTP).
//
//   fs_bench              runs every workload
//   fs_bench NAME         runs only the metrics named NAME or starting with NAME
//   fs_bench --smoke      every workload with tiny sizes (the figures mean nothing)
//   fs_bench --list       lists the metric names
//   fs_bench --serve DIR  the server: what the bench forks and execs
//
// Method. The bench makes a scratch tree /tmp/fs_bench.XXXXXX (fs_bench.h):
// a 1 GiB file of a repeated pseudo-random 1 MiB block (smaller, with a note,
// when /tmp has under 3 GiB free) and a directory of 10 000 empty files. For
// the CapTP workloads it forks and execs itself with --serve: one Vat, a
// FileIo, a sturdy-ref Store and Host serving data/ read-only as the "fs.dir"
// kind, and a captp::Node listening on a unix socket in the tree. The server
// prints its root sturdy ref; the client (this process: its own Vat and Node,
// a fresh identity) parses that text and enlivens it as a user would, so every
// byte goes through the Noise channel's ChaCha20-Poly1305 frames and the
// redeemer's membrane. The local workloads call the same Directory and File
// objects in one vat, with no CapTP. Each answer is checked (byte counts, a
// sample of every chunk against the pattern, every listed name); a mismatch
// aborts. See bench/README.md for each metric's workload.
//
// stdout carries one JSON object per line and nothing else:
//   {"metric": NAME, "value": N, "unit": U}
// Progress and diagnostics go to stderr; a failure prints why and exits 1. The
// server is killed and reaped and the scratch tree removed on every exit path
// (on a signal, only the big file is removed: the rest is not async-signal-safe).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

#include <boost/asio/signal_set.hpp>

#include "bench/fs_bench.h"
#include "caps/fs/file_io.h"
#include "captp/node.h"
#include "sturdyrefs/fs_kind.h"
#include "sturdyrefs/host.h"
#include "sturdyrefs/store.h"
#include "vat/vat.h"

namespace fs_bench {

double process_cpu_seconds(pid_t pid) {
  char path[64], buf[1024];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NAN;
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return NAN;
  buf[n] = 0;
  // Fields 14 and 15 (utime, stime), counted after the ")" that ends the name.
  const char* p = std::strrchr(buf, ')');
  unsigned long long ut = 0, st = 0;
  if (!p || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return NAN;
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// --- The server process; every exit path kills and reaps it -------------------

namespace {

std::atomic<pid_t> g_server{-1};
char g_root[] = "/tmp/fs_bench.XXXXXX";
bool g_made_root = false;
char g_big[sizeof g_root + 32] = "";  // unlinked on a signal

void kill_server() noexcept {  // async-signal-safe
  pid_t pid = g_server.exchange(-1);
  if (pid <= 0) return;
  kill(pid, SIGTERM);  // the server closes its node and ends its vat
  timespec ms{0, 1'000'000};
  for (int t = 0; t < 10'000; ++t) {
    if (waitpid(pid, nullptr, WNOHANG) != 0) return;
    nanosleep(&ms, nullptr);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

void cleanup() {
  kill_server();
  if (g_made_root) {
    g_made_root = false;
    std::error_code ec;
    std::filesystem::remove_all(g_root, ec);
    if (ec) progress("could not remove %s: %s", g_root, ec.message().c_str());
  }
}

extern "C" void on_signal(int sig) {
  const char* m =
      sig == SIGALRM ? "fs_bench: timed out (a workload took more than 5 minutes)\n" : "fs_bench: interrupted\n";
  ssize_t ignored = write(2, m, std::strlen(m));
  (void)ignored;
  kill_server();
  if (g_big[0]) unlink(g_big);
  _exit(1);
}

std::string g_exe;  // this binary, exec'd as the server

}  // namespace

void die(const std::string& why) {
  std::fprintf(stderr, "fs_bench: %s\n", why.c_str());
  std::fflush(stdout);
  cleanup();
  _exit(1);
}

namespace {

int serve(const std::string& root) {
  using namespace vatic;
  Scratch s{root};
  try {
    auto store = sturdyrefs::Store::open(s.store());
    Vat vat(VatOptions{.name = "fs-server"});
    auto io = std::make_unique<caps::FileIo>(vat);
    auto node = std::make_unique<captp::Node>(vat, store->identity());
    auto host = std::make_unique<sturdyrefs::Host>(vat, *store, sturdyrefs::HostOptions{});
    host->add_kind(sturdyrefs::kFsDirKind, sturdyrefs::fs_dir_kind(vat, *io));
    captp::Address bound = node->listen("unix:" + s.socket());
    host->set_hints({bound.to_string()});
    host->serve_on(*node);
    caps::Token root_token =
        host->token_for("root", sturdyrefs::kFsDirKind, sturdyrefs::fs_dir_params(s.data(), /*read_only=*/true));
    std::printf("%s %s\n", host->sturdy_ref(root_token).c_str(), std::string(caps::to_string(io->backend())).c_str());
    std::fflush(stdout);
    boost::asio::signal_set stop(vat.io(), SIGTERM, SIGINT);
    stop.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      node->close("server stopping");
      vat.stop();
    });
    vat.run();
    // As tools/serve.cpp and the tests: the objects (which use the FileIo) go
    // before the FileIo, and the FileIo before the vat.
    node.reset();
    host.reset();
    vat.release();
    io.reset();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fs_bench --serve %s: %s\n", root.c_str(), e.what());
    return 1;
  }
  return 0;
}

}  // namespace

Server start_server(const Scratch& s) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) die(std::string("pipe: ") + std::strerror(errno));
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(fds[1], 1);
    execl(g_exe.c_str(), "fs_bench", "--serve", s.root.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  g_server = pid;
  close(fds[1]);
  std::string line;
  pollfd pfd{fds[0], POLLIN, 0};
  char c;
  while (poll(&pfd, 1, 20'000) == 1 && read(fds[0], &c, 1) == 1 && c != '\n') line += c;
  close(fds[0]);
  auto space = line.find(' ');
  if (space == std::string::npos) die("the server failed to start (its first line: \"" + line + "\")");
  return Server{pid, line.substr(0, space), line.substr(space + 1)};
}

}  // namespace fs_bench

namespace {

using namespace fs_bench;

const std::vector<std::string> kMetrics = {
    "token.verify_3caveats_per_s",
    "token.verify_3caveats_uncached_per_s",
    "token.redeem_checks_3caveats_per_s",
    "fs.chacha20poly1305_1core_MBps",
    "fs.read_1GiB_local_MBps",
    "fs.read_1GiB_unix_MBps",
    "fs.read_vs_crypto_bound",
    "fs.list_10k_entries_local_ms",
    "fs.list_10k_entries_ms",
};

template <class F>
void timed(const char* what, F f) {
  progress("%s ...", what);
  alarm(300);
  auto t0 = BenchClock::now();
  f();
  alarm(0);
  progress("  done in %.1f s", seconds_since(t0));
}

void run_all() {
  bool token = wanted("token.verify_3caveats_per_s") || wanted("token.verify_3caveats_uncached_per_s") ||
               wanted("token.redeem_checks_3caveats_per_s");
  bool crypto = wanted("fs.chacha20poly1305_1core_MBps") || wanted("fs.read_vs_crypto_bound");
  bool read_local = wanted("fs.read_1GiB_local_MBps");
  bool read_unix = wanted("fs.read_1GiB_unix_MBps") || wanted("fs.read_vs_crypto_bound");
  bool list_local = wanted("fs.list_10k_entries_local_ms"), list_unix = wanted("fs.list_10k_entries_ms");

  if (token) timed("token.*", token_workload);
  double bound = 0;
  if (crypto) timed("fs.chacha20poly1305_1core_MBps", [&] { bound = crypto_bound(); });
  if (!(read_local || read_unix || list_local || list_unix)) return;

  if (!mkdtemp(g_root)) die(std::string("mkdtemp: ") + std::strerror(errno));
  g_made_root = true;
  Scratch s{g_root};
  std::snprintf(g_big, sizeof g_big, "%s", s.big().c_str());
  if (::mkdir(s.data().c_str(), 0700) != 0) die("mkdir " + s.data() + ": " + std::strerror(errno));
  s.block = pattern_block();
  if (read_local || read_unix)
    make_big_file(s, options().smoke ? 8 * kBlockBytes : fitting_size(s.root, std::uint64_t{1} << 30));
  if (list_local || list_unix) make_many(s, scaled(10'000, 500));

  if (read_local || list_local) timed("fs.*_local_*", [&] { local_workloads(s, read_local, list_local); });
  if (read_unix || list_unix) {
    Server server = start_server(s);
    progress("server %d serves %s (file I/O: %s)", static_cast<int>(server.pid), s.data().c_str(),
             server.file_io.c_str());
    timed("fs.*_unix_* and fs.list_10k_entries_ms", [&] { captp_workloads(s, server, read_unix, list_unix, bound); });
    kill_server();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::optional<std::string> serve_dir;
  bool list = false;
  std::vector<std::string_view> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--smoke") {
      options().smoke = true;
    } else if (args[i] == "--list") {
      list = true;
    } else if (args[i] == "--serve" && i + 1 < args.size()) {
      serve_dir = std::string(args[++i]);
    } else {
      rest.push_back(args[i]);
    }
  }
  if (serve_dir) return serve(*serve_dir);
  if (rest.size() > 1 || (rest.size() == 1 && rest[0].starts_with("-"))) {
    std::fprintf(stderr, "usage: %s [--list | [--smoke] [METRIC-OR-PREFIX]]\n", argv[0]);
    return rest.size() == 1 && (rest[0] == "-h" || rest[0] == "--help") ? 0 : 2;
  }
  if (list) {
    for (const auto& m : kMetrics) std::printf("%s\n", m.c_str());
    return 0;
  }
  if (rest.size() == 1) options().filter = rest[0];
  if (std::none_of(kMetrics.begin(), kMetrics.end(), [](const std::string& m) { return wanted(m); })) {
    std::fprintf(stderr, "fs_bench: no metric named or starting with '%s' (see --list)\n", options().filter.c_str());
    return 2;
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  g_exe = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : std::string(argv[0]);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGALRM}) signal(sig, on_signal);
  signal(SIGPIPE, SIG_IGN);
  std::atexit(cleanup);
  auto t0 = BenchClock::now();
  try {
    run_all();
  } catch (const std::exception& e) {
    die(e.what());
  }
  cleanup();
  progress("all done in %.1f s", seconds_since(t0));
  return 0;
}
