// The hello example (examples/hello/) run as its reader would: hello_server
// prints a sturdy ref, hello_client redeems it from another process and
// prints the greeting.
//
//   test ──runs──▶ hello_server STORE unix:SOCK ──stdout: the ref──▶ test
//   test ──runs──▶ hello_client REF NAME ──CapTP over the unix socket──▶ hello_server
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/temp_dir.h"

#if !defined(HELLO_SERVER_BIN) || !defined(HELLO_CLIENT_BIN)
#error "HELLO_SERVER_BIN and HELLO_CLIENT_BIN (the hello example's binaries) must be defined by the build"
#endif

namespace {

using namespace std::chrono_literals;
using vatic::test::describe_wait_status;
using vatic::test::TempDir;

// A child process with its stdout on a pipe; killed if still running, and
// always reaped, when the test ends.
class Process {
 public:
  explicit Process(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(127);
      ::syscall(SYS_close_range, 3u, ~0u, 0u);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }

  // Stdout up to the first newline (without it), or what came before EOF or the deadline.
  std::string first_line(std::chrono::milliseconds limit) {
    read_until(limit, [this] { return text_.find('\n') != std::string::npos; });
    return text_.substr(0, text_.find('\n'));
  }
  // All of stdout, until EOF or the deadline.
  std::string all_output(std::chrono::milliseconds limit) {
    read_until(limit, [] { return false; });
    return text_;
  }
  // The wait status; a child still running after `limit` is killed.
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
      std::this_thread::sleep_for(10ms);  // polling for the exit, bounded by the deadline
    }
    reaped_ = true;
    return st;
  }
  int terminate(std::chrono::milliseconds limit) {
    ::kill(pid_, SIGTERM);
    return wait(limit);
  }

 private:
  template <class Done>
  void read_until(std::chrono::milliseconds limit, Done done) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return;
      text_.append(buf, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string text_;
};

bool exited_with(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

// Runs hello_client to the end: (wait status, stdout).
std::pair<int, std::string> run_client(const std::vector<std::string>& args) {
  std::vector<std::string> argv{HELLO_CLIENT_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  Process client(argv);
  std::string out = client.all_output(30s);
  return {client.wait(10s), out};
}

TEST(Hello, ClientIsGreetedThroughTheSturdyRefTheServerPrints) {
  TempDir dir("vatic-hello");
  Process server({HELLO_SERVER_BIN, (dir / "store").string(), "unix:" + (dir / "s.sock").string()});
  std::string ref = server.first_line(20s);
  ASSERT_EQ(ref.rfind("vatic://", 0), 0u) << "no sturdy ref from hello_server: " << ref;

  auto [status, out] = run_client({ref, "vatic"});
  EXPECT_TRUE(exited_with(status, 0)) << describe_wait_status(status);
  EXPECT_EQ(out, "Hello, vatic!\n");

  int st = server.terminate(10s);
  EXPECT_TRUE(exited_with(st, 0)) << "hello_server after SIGTERM: " << describe_wait_status(st);
}

TEST(Hello, ServerOnTheSameStoreHonoursTheSameRefAfterARestart) {
  TempDir dir("vatic-hello");
  std::vector<std::string> args{HELLO_SERVER_BIN, (dir / "store").string(), "unix:" + (dir / "s.sock").string()};
  std::string before;
  {
    Process server(args);
    before = server.first_line(20s);
    ASSERT_FALSE(before.empty());
    server.terminate(10s);
  }
  Process server(args);
  EXPECT_EQ(server.first_line(20s), before);
  auto [status, out] = run_client({before});
  EXPECT_TRUE(exited_with(status, 0)) << describe_wait_status(status);
  EXPECT_EQ(out, "Hello, world!\n");
}

TEST(Hello, ClientRefusesTextThatIsNotASturdyRef) {
  auto [status, out] = run_client({"vatic://not-a-vat-id@127.0.0.1:1/AAAA"});
  EXPECT_TRUE(exited_with(status, 2)) << describe_wait_status(status);
  EXPECT_EQ(out, "");
}

}  // namespace
