// captp_bench: the server processes. The client forks and execs one per
// transport (and a second unix one for the handshakes' CPU figures); each
// exit path of the client kills and reaps them (see captp_bench.cpp).
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>

#include "bench/captp_bench.h"
#include "captp/node.h"

namespace captp_bench {

using namespace vatic;
using namespace vatic::bench;

// --- Server processes; every exit path kills and reaps them ----------------

pid_t g_servers[8];
std::atomic<int> g_nservers{0};
char g_sockdir[kSockDirSize] = "/tmp/captp_bench.XXXXXX";
char g_sockpath[kSockDirSize + 16] = "";
char g_sockpath_quiet[kSockDirSize + 16] = "";
char g_sockpath_curves[kSockDirSize + 16] = "";
char g_sockpath_host[kSockDirSize + 16] = "";
char g_sockpath_intro[kSockDirSize + 16] = "";

// SIGTERM (the server then ends its vat and exits, so tools like callgrind
// write their output), SIGKILL if it is still there after 10 s.
void kill_servers() noexcept {  // async-signal-safe, as is cleanup()
  for (int i = g_nservers.exchange(0); i-- > 0;) {
    pid_t pid = g_servers[i];
    kill(pid, SIGTERM);
    timespec ms{0, 1'000'000};
    bool reaped = false;
    for (int t = 0; t < 10'000 && !(reaped = waitpid(pid, nullptr, WNOHANG) != 0); ++t) nanosleep(&ms, nullptr);
    if (!reaped) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
}
void cleanup() noexcept {
  kill_servers();
  if (g_sockpath[0]) {
    unlink(g_sockpath);
    unlink(g_sockpath_quiet);
    unlink(g_sockpath_curves);
    unlink(g_sockpath_host);
    unlink(g_sockpath_intro);
    rmdir(g_sockdir);
    g_sockpath[0] = 0;
  }
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "captp_bench: %s\n", why.c_str());
  std::fflush(stdout);
  cleanup();
  _exit(1);
}

extern "C" void on_signal(int sig) {
  const char* m =
      sig == SIGALRM ? "captp_bench: timed out (a workload took more than 5 minutes)\n" : "captp_bench: interrupted\n";
  ssize_t ignored = write(2, m, std::strlen(m));
  (void)ignored;
  cleanup();
  _exit(1);
}

void raise_fd_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur >= files.rlim_max) return;
  files.rlim_cur = files.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &files) != 0) std::perror("setrlimit(RLIMIT_NOFILE)");
}

int serve(std::string_view at, const ServeOptions& o) {
  try {
    raise_fd_limit();
    Vat vat(VatOptions{.name = "server", .spin_before_block = g_spin});
    // Room for the sessions curve's thousand clients (the default, 900, stays
    // under the usual open-file limit of 1024).
    captp::NodeOptions options;
    options.max_connections = 4'096;
    options.session.handoff = o.handoff;
    captp::Node node(vat, captp::Identity::generate(), options);
    if (o.introduce_id.empty()) {
      node.set_bootstrap(vat.make<Bench>());
    } else {
      auto id = captp::VatId::parse(o.introduce_id);
      auto addr = captp::Address::parse(o.introduce_at);
      if (!id || !addr) throw std::runtime_error("--introduce needs a vat id and an address");
      Ref<Bench> host = node.connect<Bench>(*id, *addr);
      // Settled before it is handed out: an import of an object, not the
      // bootstrap's pending answer (spec/captp.md 11, H2).
      vat.wait(host.send<&Bench::echo>(0));
      node.set_bootstrap(vat.make<Introducer>(host));
    }
    captp::Address bound = node.listen(at);
    std::printf("%s %s\n", node.id().to_text().c_str(), bound.to_string().c_str());
    std::fflush(stdout);
    boost::asio::signal_set stop(vat.io(), SIGTERM, SIGINT);
    stop.async_wait([&vat](const boost::system::error_code& ec, int) {
      if (!ec) vat.stop();
    });
    vat.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "captp_bench --serve %.*s: %s\n", static_cast<int>(at.size()), at.data(), e.what());
    return 1;
  }
  return 0;
}

// Forks and execs `g_self --serve at`; returns what it reports on its first line.
Server start_server(const std::string& at, const ServeOptions& o) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) die(std::string("pipe: ") + std::strerror(errno));
  std::string spin = std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(g_spin).count());
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    pin_to_cpu(g_pin[1]);
    dup2(fds[1], 1);
    std::vector<const char*> argv = {g_self, "--spin-us", spin.c_str(), "--serve", at.c_str()};
    if (o.handoff) argv.push_back("--handoff");
    if (!o.introduce_id.empty()) {
      argv.push_back("--introduce");
      argv.push_back(o.introduce_id.c_str());
      argv.push_back(o.introduce_at.c_str());
    }
    argv.push_back(nullptr);
    execv(g_exe.c_str(), const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  g_servers[g_nservers.load()] = pid;
  ++g_nservers;
  close(fds[1]);
  std::string line;
  pollfd pfd{fds[0], POLLIN, 0};
  char c;
  while (poll(&pfd, 1, 10'000) == 1 && read(fds[0], &c, 1) == 1 && c != '\n') line += c;
  close(fds[0]);
  auto space = line.find(' ');
  auto id = captp::VatId::parse(std::string_view(line).substr(0, space));
  auto addr = captp::Address::parse(space == std::string::npos ? "" : std::string_view(line).substr(space + 1));
  if (!id || !addr) die("server for " + at + " failed to start (its first line: \"" + line + "\")");
  return Server{pid, *id, *addr};
}

}  // namespace captp_bench
