// capnp_peer_client: Cap'n Proto RPC between two processes, over a unix
// socket and over 127.0.0.1 TCP, on captp_bench's cross-process workloads
// (bench/README.md): echo RTT, echo windows of 1/16/256/1024 with the CPU per
// call, the chain of 10 next() pipelined and awaited, and 1 MiB data() at
// windows 1 and 4. Metric names are captp_bench's with "capnp." for "captp.",
// so `scripts/bench --peers` pairs them by name.
//
//   capnp_peer_client [--smoke] [unix] [tcp]   (default: both transports)
//
// Per transport it forks and execs a fresh capnp_peer_server (the binary next
// to this one) and connects one capnp::EzRpcClient; the server is killed (by
// its pid) and reaped when the transport is done, on a failure and at exit.
// Output: one JSON object per line on stdout; progress on stderr.
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/ez-rpc.h>

#include "bench/bench_util.h"
#include "bench/peers/capnp_peer.h"

namespace {

using namespace vatic::bench;
using namespace capnp_peer;

pid_t g_server = -1;
char g_sockdir[] = "/tmp/capnp_peer.XXXXXX";
bool g_have_sockdir = false;

void stop_server() {
  if (g_server <= 0) return;
  kill(g_server, SIGKILL);
  waitpid(g_server, nullptr, 0);
  g_server = -1;
}

void at_exit() {
  stop_server();
  if (g_have_sockdir) {
    std::string sock = std::string(g_sockdir) + "/capnp.sock";
    unlink(sock.c_str());
    rmdir(g_sockdir);
  }
}

std::string server_binary() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) fail("cannot read /proc/self/exe");
  std::string path(self, static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + "capnp_peer_server";
}

// Starts the server on `address`; returns the port from its "READY <port>" line.
std::string start_server(const std::string& address) {
  int out[2];
  if (pipe(out) != 0) fail(std::string("pipe: ") + std::strerror(errno));
  std::string bin = server_binary();
  pid_t pid = fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(bin.c_str(), bin.c_str(), address.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "[capnp_peer] exec %s: %s\n", bin.c_str(), std::strerror(errno));
    _exit(127);
  }
  g_server = pid;
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  if (line.rfind("READY ", 0) != 0) fail("the server " + bin + " did not start");
  return line.substr(6);
}

double both_cpu_seconds() { return cpu_seconds(getpid()) + cpu_seconds(g_server); }

void run_transport(const std::string& transport) {
  std::string address;
  if (transport == "tcp") {
    address = "127.0.0.1:" + start_server("127.0.0.1:0");
  } else {
    if (!g_have_sockdir && !mkdtemp(g_sockdir)) fail(std::string("mkdtemp: ") + std::strerror(errno));
    g_have_sockdir = true;
    address = "unix:" + std::string(g_sockdir) + "/capnp.sock";
    unlink(address.c_str() + 5);
    start_server(address);
  }
  std::fprintf(stderr, "[capnp_peer] %s: server %d at %s\n", transport.c_str(), static_cast<int>(g_server),
               address.c_str());
  const std::string prefix = "capnp." + transport + ".";
  auto m = [&](std::string_view name) { return prefix + std::string(name); };
  {
    capnp::EzRpcClient client(address);
    auto& ws = client.getWaitScope();
    Bench::Client bench = client.getMain<Bench>();

    auto rtts = echo_rtts_us(bench, ws, scaled(2'000, 10), scaled(20'000, 100));
    emit(m("echo_rtt_p50_us"), percentile(rtts, 50), "us");
    emit(m("echo_rtt_p99_us"), percentile(rtts, 99), "us");

    for (int window : {1, 16, 256, 1024}) {
      std::int64_t calls = scaled<std::int64_t>(window == 1 ? 10'000 : 100'000, 2 * window);
      echo_window_calls_per_s(bench, ws, window, scaled<std::int64_t>(5'000, window));
      double cpu0 = both_cpu_seconds();
      double rate = echo_window_calls_per_s(bench, ws, window, calls);
      double cpu = both_cpu_seconds() - cpu0;
      std::string w = "echo_window" + std::to_string(window);
      emit(m(w + "_calls_per_s"), rate, "calls/s");
      emit(m(w + "_cpu_us_per_call"), cpu / static_cast<double>(calls) * 1e6, "us");
    }

    ChainFigures chain = chains(bench, ws, scaled(100, 2), scaled(1'000, 10));
    emit(m("chain10_pipelined_p50_us"), chain.pipelined_p50_us, "us");
    emit(m("chain10_awaited_p50_us"), chain.awaited_p50_us, "us");
    emit(m("chain10_awaited_over_pipelined"), chain.awaited_p50_us / chain.pipelined_p50_us, "x");

    constexpr std::uint32_t kMiB = 1u << 20;
    const int calls = scaled(400, 4);
    data_window_MBps(bench, ws, 1, kMiB, scaled(20, 1));
    emit(m("data1MiB_window1_MBps"), data_window_MBps(bench, ws, 1, kMiB, calls), "MB/s");
    emit(m("data1MiB_window4_MBps"), data_window_MBps(bench, ws, 4, kMiB, calls), "MB/s");
  }
  stop_server();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> transports;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--smoke") {
      options().smoke = true;
    } else if (a == "unix" || a == "tcp") {
      transports.emplace_back(a);
    } else {
      std::fprintf(stderr, "usage: %s [--smoke] [unix] [tcp]\n", argv[0]);
      return 2;
    }
  }
  if (transports.empty()) transports = {"unix", "tcp"};
  std::atexit(at_exit);
  for (const auto& t : transports) run_transport(t);
  return 0;
}
