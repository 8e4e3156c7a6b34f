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

#include "tests/examples/child_process.h"
#include "tests/temp_dir.h"

#if !defined(HELLO_SERVER_BIN) || !defined(HELLO_CLIENT_BIN)
#error "HELLO_SERVER_BIN and HELLO_CLIENT_BIN (the hello example's binaries) must be defined by the build"
#endif

namespace {

using namespace std::chrono_literals;
using vatic::test::describe_wait_status;
using vatic::test::TempDir;

using Process = vatic::test::ChildProcess;

bool exited_with(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

// Runs hello_client to the end: (wait status, stdout).
std::pair<int, std::string> run_client(const std::vector<std::string>& args) {
  std::vector<std::string> argv{HELLO_CLIENT_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  Process client(argv);
  std::string out = client.read_all(30s);
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
