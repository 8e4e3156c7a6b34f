// ChildProcess: one example binary run as a child of a test, with its stdout
// on a pipe (and its stdin on another, if asked for: write() feeds it). The
// child dies with the test (PR_SET_PDEATHSIG) and inherits no descriptor but
// its standard ones; the test always reaps it (killing it first if it still
// runs when the ChildProcess goes away).
//
// One thread; the test's.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace vatic::test {

class ChildProcess {
 public:
  enum class Stdin { inherit, pipe };

  // argv[0] is the binary's path.
  explicit ChildProcess(std::vector<std::string> args, Stdin in = Stdin::inherit) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    int ins[2] = {-1, -1};
    if (in == Stdin::pipe && ::pipe2(ins, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(127);
      if (ins[0] >= 0 && ::dup2(ins[0], STDIN_FILENO) < 0) ::_exit(127);
      ::syscall(SYS_close_range, 3u, ~0u, 0u);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
    if (ins[0] >= 0) ::close(ins[0]);
    in_ = ins[1];
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
    close_stdin();
  }

  // Writes to the child's stdin (Stdin::pipe); false if the child no longer reads it.
  bool write(const std::string& text) {
    std::size_t done = 0;
    while (in_ >= 0 && done < text.size()) {
      // MSG_NOSIGNAL is for sockets: a pipe whose reader is gone raises
      // SIGPIPE, which gtest's process must not die of.
      sighandler_t old = ::signal(SIGPIPE, SIG_IGN);
      ssize_t n = ::write(in_, text.data() + done, text.size() - done);
      ::signal(SIGPIPE, old);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return in_ >= 0;
  }
  // The child reads the end of its input.
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  // Reads stdout until `stop` says enough (or EOF, or the deadline); all read so far.
  std::string read(std::chrono::milliseconds limit, const std::function<bool(const std::string&)>& stop) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!stop(text_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      text_.append(buf, static_cast<std::size_t>(n));
    }
    return text_;
  }
  // All of stdout, until EOF or the deadline.
  std::string read_all(std::chrono::milliseconds limit) {
    return read(limit, [](const std::string&) { return false; });
  }
  // Stdout up to the first newline (without it), or what came before EOF or the deadline.
  std::string first_line(std::chrono::milliseconds limit) {
    std::string s = read(limit, [](const std::string& t) { return t.find('\n') != std::string::npos; });
    return s.substr(0, s.find('\n'));
  }

  // The wait status, waiting at most `limit` (then killing the child).
  int wait(std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    int st = 0;
    while (::waitpid(pid_, &st, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > end) {
        ADD_FAILURE() << "child did not exit in time; killing it";
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling for the exit, bounded by the deadline
    }
    reaped_ = true;
    return st;
  }
  // SIGTERM, then wait() at most `limit`.
  int terminate(std::chrono::milliseconds limit) {
    ::kill(pid_, SIGTERM);
    return wait(limit);
  }
  bool running() { return !reaped_ && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int in_ = -1;
  bool reaped_ = false;
  std::string text_;
};

}  // namespace vatic::test
