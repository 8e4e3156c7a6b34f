// A helper server for the CLI tests: a test binary of our own (not `vatic`)
// that serves something and prints one sturdy ref on its first stdout line
// (cli_test_lossy_admin, cli_test_persist_server). Started with the fixture's
// environment (HOME under the test's directory), its first line read within
// the serve deadline; killed and reaped by the destructor if still running.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/tools/cli_fixture.h"

namespace vatic::test {

class HelperServer {
 public:
  HelperServer(const char* binary, const std::filesystem::path& home, std::vector<std::string> args) {
    detail::ExecArgs exec(std::move(args), home);
    exec.argv_text[0] = binary;
    exec.argv[0] = exec.argv_text[0].data();
    int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out[2];
    if (in_fd < 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("cannot set up the helper's I/O");
    pid_ = detail::spawn(exec, in_fd, out[1], STDERR_FILENO, {});
    ::close(in_fd);
    ::close(out[1]);
    std::string text;
    auto end = Clock::now() + kServeDeadline;
    while (text.find('\n') == std::string::npos && Clock::now() < end) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    if (text.find('\n') == std::string::npos) {
      detail::kill_and_reap(pid_);
      throw std::runtime_error(std::string(binary) + " printed no ref");
    }
    ref_ = text.substr(0, text.find('\n'));
  }
  ~HelperServer() {
    if (pid_ > 0) detail::kill_and_reap(pid_);
  }
  HelperServer(const HelperServer&) = delete;
  HelperServer& operator=(const HelperServer&) = delete;

  const std::string& ref() const { return ref_; }
  // Its wait status, once it has ended (within the deadline).
  int wait() {
    int status = detail::wait_for_exit(pid_, kCommandDeadline);
    if (status >= 0) pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  std::string ref_;
};

}  // namespace vatic::test
