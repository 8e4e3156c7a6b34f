// Helpers for the process tests: a peer vat in a child process
// (captp_test_peer, started and always reaped by PeerProcess), a temporary
// directory for unix socket paths, and the test process's own vat and node,
// driven from the test thread until what the test waits for has happened or a
// deadline passes (no sleeps: the loop polls the vat's io_context).
//
// Threads: everything here runs on the test thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "captp/address.h"
#include "captp/identity.h"
#include "captp/node.h"
#include "tests/captp/peer_objects.h"
#include "tests/temp_dir.h"
#include "vat/vatic.h"

#ifndef CAPTP_TEST_PEER
#error "CAPTP_TEST_PEER (the path of captp_test_peer) must be defined by the build"
#endif

namespace vatic::test {

// A running captp_test_peer. The constructor starts it and reads its
// "<vat id> <address>" line within a deadline (or kills it and throws). The
// destructor stops it with SIGTERM and expects a clean exit (status 0, which
// under the sanitizers also means no report); a child that does not exit in
// time is killed. Either way the child is reaped.
class PeerProcess {
 public:
  explicit PeerProcess(const std::vector<std::string>& args, Duration deadline = std::chrono::seconds(5)) {
    spawn(args);
    try {
      read_ready_line(deadline);
    } catch (...) {
      ::kill(pid_, SIGKILL);
      wait_for_exit(std::chrono::seconds(5));
      close_pipe();
      throw;
    }
  }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  ~PeerProcess() {
    if (!reaped_) {
      int status = stop();
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "captp_test_peer " << pid_ << " did not stop cleanly: " << describe_wait_status(status);
    }
    close_pipe();
  }

  pid_t pid() const noexcept { return pid_; }
  const captp::VatId& id() const { return *id_; }
  const captp::Address& address() const { return *address_; }
  // "VATID@ADDR", for another peer's --connect.
  std::string connect_arg() const { return id().to_text() + "@" + address().to_string(); }

  // SIGSTOP, returning once the child has stopped: it reads no socket until
  // resume(), though the kernel still accepts connections to its listener.
  void pause() {
    ::kill(pid_, SIGSTOP);
    int status = 0;
    pid_t r;
    do r = ::waitpid(pid_, &status, WUNTRACED);
    while (r < 0 && errno == EINTR);
    if (r == pid_ && !WIFSTOPPED(status)) {
      reaped_ = true;
      status_ = status;
    }
    if (r != pid_ || !WIFSTOPPED(status))
      throw std::runtime_error("captp_test_peer did not stop: " + describe_wait_status(status));
    paused_ = true;
  }
  void resume() {
    ::kill(pid_, SIGCONT);
    paused_ = false;
  }

  // SIGKILL, then reap; returns the wait status.
  int kill_now() {
    ::kill(pid_, SIGKILL);
    return wait_for_exit(std::chrono::seconds(5));
  }
  // SIGTERM, then reap, killing it if it does not exit within `limit`.
  int stop(Duration limit = std::chrono::seconds(5)) {
    if (reaped_) return status_;
    // Only a paused child gets SIGCONT: it discards a pending SIGSTOP, which
    // may be the one LeakSanitizer's tracer is waiting for as the child exits.
    if (paused_) resume();
    ::kill(pid_, SIGTERM);
    if (wait_for_exit(limit) >= 0) return status_;
    ADD_FAILURE() << "captp_test_peer " << pid_ << " ignored SIGTERM for "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(limit).count() << " ms; killing it";
    return kill_now();
  }

 private:
  void spawn(const std::vector<std::string>& args) {
    std::vector<std::string> all{CAPTP_TEST_PEER};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid_ == 0) {
      // Child: async-signal-safe calls only. Die with the test process, write
      // the ready line into the pipe, inherit none of the test's sockets.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(127);
      ::syscall(SYS_close_range, 3u, ~0u, 0u);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
  }

  void read_ready_line(Duration deadline) {
    auto end = std::chrono::steady_clock::now() + deadline;
    std::string line;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("captp_test_peer printed no ready line in time");
      pollfd p{out_fd_, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) continue;
      char buf[256];
      ssize_t got = ::read(out_fd_, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        int status = wait_for_exit(std::chrono::seconds(5));
        throw std::runtime_error("captp_test_peer ended before its ready line (" + describe_wait_status(status) +
                                 "); output so far: " + line);
      }
      line.append(buf, static_cast<std::size_t>(got));
      if (auto nl = line.find('\n'); nl != std::string::npos) {
        line.resize(nl);
        break;
      }
    }
    auto space = line.find(' ');
    auto id = captp::VatId::parse(line.substr(0, space));
    auto address = captp::Address::parse(space == std::string::npos ? "" : line.substr(space + 1));
    if (!id || !address)
      throw std::runtime_error("bad ready line from captp_test_peer: " + line + " (" + id.error() + address.error() +
                               ")");
    id_ = *id;
    address_ = *address;
  }

  // Reaps the child, waiting at most `limit`; the wait status, or -1 if it is
  // still running. Waits on a pidfd; without one (old kernels), polls waitpid.
  int wait_for_exit(Duration limit) {
    if (reaped_) return status_;
    auto end = std::chrono::steady_clock::now() + limit;
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
      pollfd p{pidfd, POLLIN, 0};
      int n;
      do n = ::poll(&p, 1, static_cast<int>(ms));
      while (n < 0 && errno == EINTR);
      ::close(pidfd);
      if (n == 0) return -1;
    }
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        status_ = status;
        return status_;
      }
      if (r < 0 && errno != EINTR) return -1;
      if (std::chrono::steady_clock::now() > end) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void close_pipe() {
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  bool paused_ = false;
  int status_ = -1;
  std::optional<captp::VatId> id_;
  std::optional<captp::Address> address_;
};

// The test process's vat and node, driven from the test thread.
struct TestVat {
  Vat vat{VatOptions{.name = "test", .spin_before_block = Duration::zero()}};
  std::unique_ptr<captp::Node> node = std::make_unique<captp::Node>(vat, captp::Identity::generate());

  TestVat() = default;
  TestVat(const TestVat&) = delete;
  TestVat& operator=(const TestVat&) = delete;
  ~TestVat() {
    node.reset();
    for (int i = 0; i < 100; ++i) {
      if (vat.run_until_idle() == 0) break;
    }
  }

  Ref<PeerEcho> connect(const PeerProcess& p) { return node->connect<PeerEcho>(p.id(), p.address()); }

  // Runs the loop until pred() holds; false once `limit` has passed.
  bool run_until(const std::function<bool()>& pred, Duration limit = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      if (vat.run_until_idle() == 0) std::this_thread::yield();
    }
    return true;
  }
  template <class T>
  T get(Promise<T> p) {
    EXPECT_TRUE(run_until([&] { return !p.pending(); })) << "promise did not settle";
    if (p.is_broken()) throw VatError(p.error());
    if constexpr (!std::is_void_v<T>) return p.value();
  }
  template <class T>
  Error error_of(Promise<T> p) {
    EXPECT_TRUE(run_until([&] { return !p.pending(); })) << "promise did not settle";
    EXPECT_TRUE(p.is_broken());
    return p.is_broken() ? p.error() : Error{};
  }
};

}  // namespace vatic::test
