// Runs a child process and kills it with SIGKILL after it printed a number of
// lines, for the kill -9 tests of tests/persist (kill_test.cpp,
// migration_kill_test.cpp): each line the child prints is an acknowledgement
// (one write(2) below PIPE_BUF, so it arrives whole or not at all).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace vatic::persist::test {

struct ChildRun {
  std::string output;
  int status = -1;
};

// Starts `argv` (argv[0] is the executable), reads until `acks` lines arrived
// (0: kill at once), kills it with SIGKILL and reads the rest of the pipe.
inline ChildRun run_and_kill(const std::vector<std::string>& argv, int acks) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(127);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  ChildRun r;
  int lines = 0;
  bool killed = false;
  if (acks == 0) {
    ::kill(pid, SIGKILL);
    killed = true;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is gone
    r.output.append(buf, static_cast<std::size_t>(n));
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
    if (!killed && lines >= acks) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(fds[0]);
  if (!killed) ::kill(pid, SIGKILL);
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

}  // namespace vatic::persist::test
