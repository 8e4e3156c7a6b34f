// Helpers for the CLI tests: run the real `vatic` binary as a user would, each
// invocation a child process with its own stdout and stderr captured (one-shot
// commands), or a long-running `vatic serve` (ServerProcess: started, its root
// ref read from its stdout within a deadline, and always stopped and reaped).
// Nothing sleeps blindly: children are waited for with poll() on their pipes
// and on a pidfd, each wait bounded by a deadline.
//
// The children get a scrubbed environment: no VATIC_STORE or XDG_DATA_HOME,
// and HOME pointing into the test's temporary directory, so a command that
// forgot --store can never touch the user's real store.
//
// Named cli_process.h, not cli_util.h, so that it can never be confused with
// (or shadow, through the include path) tools/cli_util.h.
//
// Threads: everything here runs on the test thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/temp_dir.h"

#ifndef VATIC_CLI
#error "VATIC_CLI (the path of the vatic binary) must be defined by the build"
#endif

extern char** environ;

namespace vatic::test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Generous: a loaded machine (two cores, several builds) must not fail a test
// that takes well under a second when idle.
inline constexpr milliseconds kCommandDeadline{30'000};
inline constexpr milliseconds kServeDeadline{20'000};

inline void write_file(const std::filesystem::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline unsigned file_mode(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

namespace detail {

// argv and envp for execve, built before fork (the child only calls
// async-signal-safe functions).
struct ExecArgs {
  std::vector<std::string> argv_text, env_text;
  std::vector<char*> argv, envp;

  ExecArgs(const std::vector<std::string>& args, const std::filesystem::path& home) {
    argv_text.push_back(VATIC_CLI);
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    for (char** e = environ; *e; ++e) {
      std::string_view v(*e);
      if (v.starts_with("VATIC_STORE=") || v.starts_with("XDG_DATA_HOME=") || v.starts_with("HOME=")) continue;
      env_text.emplace_back(v);
    }
    env_text.push_back("HOME=" + home.string());
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

// Forks and execs `vatic`: stdin from `in_fd`, stdout to `out_fd`, stderr to
// `err_fd`, in `cwd` if not empty, with at most `nofile` open files if not 0.
// The child dies with the test process.
inline pid_t spawn(ExecArgs& a, int in_fd, int out_fd, int err_fd, const std::filesystem::path& cwd,
                   rlim_t nofile = 0) {
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (::dup2(in_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 || ::dup2(err_fd, STDERR_FILENO) < 0)
      ::_exit(127);
    ::syscall(SYS_close_range, 3u, ~0u, 0u);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    struct rlimit limit {
      nofile, nofile
    };
    if (nofile != 0 && ::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(127);
    ::execve(a.argv[0], a.argv.data(), a.envp.data());
    ::_exit(127);
  }
  return pid;
}

// Reaps `pid` within `limit`: its wait status, or -1 if it is still running.
inline int wait_for_exit(pid_t pid, milliseconds limit) {
  auto end = Clock::now() + limit;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int n;
    do n = ::poll(&p, 1, static_cast<int>(limit.count()));
    while (n < 0 && errno == EINTR);
    ::close(pidfd);
    if (n == 0) return -1;
  }
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() > end) return -1;
    std::this_thread::sleep_for(milliseconds(1));  // only without pidfd (kernels before 5.3)
  }
}

inline int kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  return wait_for_exit(pid, milliseconds(10'000));
}

inline void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace detail

// What a one-shot command did.
struct RunResult {
  int code = -1;  // exit status; 128 + signal if killed by one; -1 if it timed out
  std::string out, err;

  std::string describe() const {
    auto cut = [](const std::string& s) { return s.size() > 600 ? s.substr(0, 600) + "..." : s; };
    return "exit " + std::to_string(code) + "\n  stdout: " + cut(out) + "\n  stderr: " + cut(err);
  }
  // stdout without the trailing newline.
  std::string line() const {
    std::string s = out;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
};

struct RunOptions {
  std::filesystem::path stdin_file;  // empty: /dev/null
  std::filesystem::path cwd;         // empty: the test's
  milliseconds deadline = kCommandDeadline;
};

// Runs `vatic ARGS...` to completion (or kills it at the deadline).
inline RunResult run_vatic(const std::filesystem::path& home, const std::vector<std::string>& args,
                           const RunOptions& opt = {}) {
  detail::ExecArgs exec(args, home);
  int in_fd = ::open(opt.stdin_file.empty() ? "/dev/null" : opt.stdin_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) throw std::runtime_error("cannot open stdin for vatic: " + opt.stdin_file.string());
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  pid_t pid = detail::spawn(exec, in_fd, out[1], err[1], opt.cwd);
  ::close(in_fd);
  ::close(out[1]);
  ::close(err[1]);

  RunResult r;
  auto end = Clock::now() + opt.deadline;
  int fds[2] = {out[0], err[0]};
  std::string* sinks[2] = {&r.out, &r.err};
  bool timed_out = false;
  while (fds[0] >= 0 || fds[1] >= 0) {
    auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    int n = ::poll(p, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t got = ::read(fds[i], buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0)
        detail::close_fd(fds[i]);
      else
        sinks[i]->append(buf, static_cast<std::size_t>(got));
    }
  }
  detail::close_fd(fds[0]);
  detail::close_fd(fds[1]);
  // Both pipes closed: it is exiting. Give it a little time even at the deadline.
  auto grace = std::max(milliseconds(5'000), std::chrono::duration_cast<milliseconds>(end - Clock::now()));
  int status = timed_out ? -1 : detail::wait_for_exit(pid, grace);
  if (status < 0) {
    detail::kill_and_reap(pid);
    r.code = -1;
    r.err += "[test: killed at the deadline]";
    return r;
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Exit code 0.
inline ::testing::AssertionResult succeeded(const RunResult& r) {
  if (r.code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected success, got " << r.describe();
}

// Exit code `code`, nothing on stdout, and exactly one line on stderr that
// starts with "vatic: " (the failure contract of tools/cli_util.h).
inline ::testing::AssertionResult fails_with(const RunResult& r, int code) {
  if (r.code != code) return ::testing::AssertionFailure() << "expected exit " << code << ", got " << r.describe();
  if (!r.out.empty()) return ::testing::AssertionFailure() << "expected no stdout on failure, got " << r.describe();
  if (!r.err.starts_with("vatic: ") || r.err.back() != '\n' || r.err.find('\n') != r.err.size() - 1)
    return ::testing::AssertionFailure() << "expected one stderr line \"vatic: ...\", got " << r.describe();
  return ::testing::AssertionSuccess();
}

// A running `vatic serve`. The constructor starts it and reads its first
// stdout line (the root ref, or the --json object) within a deadline, or kills
// it and throws. stderr goes to a log file, shown when something fails. The
// destructor stops it with SIGTERM and expects a clean exit; a server that
// does not exit in time is killed. Either way it is reaped.
class ServerProcess {
 public:
  // `nofile`: the server's open-file limit (RLIMIT_NOFILE), if not 0.
  ServerProcess(const std::filesystem::path& home, const std::vector<std::string>& serve_args,
                const std::filesystem::path& log, rlim_t nofile = 0)
      : log_(log) {
    std::vector<std::string> args{"serve"};
    args.insert(args.end(), serve_args.begin(), serve_args.end());
    detail::ExecArgs exec(args, home);
    int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int err_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int out[2];
    if (in_fd < 0 || err_fd < 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("cannot set up serve I/O");
    pid_ = detail::spawn(exec, in_fd, out[1], err_fd, {}, nofile);
    ::close(in_fd);
    ::close(err_fd);
    ::close(out[1]);
    out_fd_ = out[0];
    try {
      read_first_line();
      wait_until_it_handles(SIGTERM);
      wait_until_it_handles(SIGINT);
    } catch (...) {
      status_ = detail::kill_and_reap(pid_);
      reaped_ = true;
      detail::close_fd(out_fd_);
      throw;
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() {
    if (!reaped_) {
      int status = stop(SIGTERM);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "vatic serve " << pid_ << " did not stop cleanly: " << describe_wait_status(status) << "; log:\n"
          << log();
    }
    detail::close_fd(out_fd_);
  }

  // The first stdout line: the root sturdy ref (or the --json object).
  const std::string& first_line() const noexcept { return line_; }
  pid_t pid() const noexcept { return pid_; }
  std::string log() const {
    try {
      return read_file(log_);
    } catch (const std::exception&) {
      return "(no log)";
    }
  }

  // SIGKILL (no chance to clean up), then reap; returns the wait status.
  int kill_now() {
    if (reaped_) return status_;
    status_ = detail::kill_and_reap(pid_);
    reaped_ = true;
    return status_;
  }

  // Sends `sig` and reaps; a server still running after `limit` is killed
  // (a test failure). Returns the wait status.
  int stop(int sig, milliseconds limit = milliseconds(10'000)) {
    if (reaped_) return status_;
    ::kill(pid_, sig);
    status_ = detail::wait_for_exit(pid_, limit);
    if (status_ < 0) {
      ADD_FAILURE() << "vatic serve " << pid_ << " ignored signal " << sig << "; killing it";
      status_ = detail::kill_and_reap(pid_);
    }
    reaped_ = true;
    return status_;
  }

 private:
  void read_first_line() {
    auto end = Clock::now() + kServeDeadline;
    std::string text;
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now());
      if (left.count() <= 0) throw std::runtime_error("vatic serve printed no root ref in time; log:\n" + log());
      pollfd p{out_fd_, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n <= 0) continue;
      char buf[4096];
      ssize_t got = ::read(out_fd_, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw std::runtime_error("vatic serve ended before printing its root ref; log:\n" + log());
      text.append(buf, static_cast<std::size_t>(got));
      if (auto nl = text.find('\n'); nl != std::string::npos) {
        line_ = text.substr(0, nl);
        return;
      }
    }
  }

  // `vatic serve` prints its root ref before it installs its SIGTERM and
  // SIGINT handlers (see ServeHandlesSignalsAsSoonAsItPrintsItsRootRef in
  // cli_revoke_test.cpp), so a test that stops it right after the ref could
  // kill it. Until then, "ready" also means: it catches `sig`
  // (/proc/<pid>/status, SigCgt: a hex mask, bit sig-1). Polled with a deadline.
  void wait_until_it_handles(int sig) {
    auto end = Clock::now() + kServeDeadline;
    std::string status_file = "/proc/" + std::to_string(pid_) + "/status";
    for (;;) {
      std::ifstream in(status_file);
      std::string line;
      while (std::getline(in, line)) {
        if (!line.starts_with("SigCgt:")) continue;
        unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
        if (mask & (1ULL << (sig - 1))) return;
      }
      if (Clock::now() > end) throw std::runtime_error("vatic serve installed no handler for " + std::to_string(sig));
      std::this_thread::sleep_for(milliseconds(1));  // polling, bounded by the deadline
    }
  }

  std::filesystem::path log_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  int status_ = -1;
  std::string line_;
};

}  // namespace vatic::test
