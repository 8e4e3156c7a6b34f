// The introduction example (examples/introduction/) run as three processes:
// the host C serves a Counter, the introducer B holds it and hands it out,
// the recipient A gets it from B. With three-party handoff (spec/captp.md 11)
// A dials C itself and its calls go A -> C; B is then killed with SIGKILL and
// A's calls keep answering, over unix sockets and over TCP loopback. With
// handoff off at B (the negative control), B proxies, and killing it breaks
// A's reference: the test can tell the two apart.
//
//   test ──runs──▶ introduction host        ──stdout: "host ID ADDR", ready──▶ test
//   test ──runs──▶ introduction introducer  ──CapTP──▶ host
//   test ──stdin: commands──▶ introduction recipient ──CapTP──▶ introducer
//                                           └──CapTP, dialled at C's hint──▶ host
// The test process is none of the vats: A is a child too, the same program
// the demo runs, driven through its stdin.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/examples/child_process.h"
#include "tests/temp_dir.h"

#if !defined(INTRODUCTION_BIN)
#error "INTRODUCTION_BIN (the introduction example's binary) must be defined by the build"
#endif

namespace {

using namespace std::chrono_literals;
using vatic::test::ChildProcess;
using vatic::test::describe_wait_status;
using vatic::test::TempDir;

// The complete lines of `text` (a last line without its newline is still coming).
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    out.push_back(text.substr(at, nl - at));
  return out;
}

// A process of the example and the lines of its stdout read so far.
class Role {
 public:
  explicit Role(std::vector<std::string> args, ChildProcess::Stdin in = ChildProcess::Stdin::inherit)
      : p_(std::move(args), in) {}
  // The next line of stdout (at most 30 s away); "" if none came.
  std::string next_line() {
    std::vector<std::string> all =
        lines_of(p_.read(30s, [&](const std::string& t) { return lines_of(t).size() > seen_; }));
    return seen_ < all.size() ? all[seen_++] : "";
  }
  // Lines up to and including "ready" (without it).
  std::vector<std::string> until_ready() {
    std::vector<std::string> got;
    for (std::string l = next_line(); l != "ready"; l = next_line()) {
      if (l.empty()) {
        ADD_FAILURE() << "no \"ready\" line; stdout so far:\n" << p_.read_all(0ms);
        break;
      }
      got.push_back(l);
    }
    return got;
  }
  // A command to the recipient, and the line it answers with.
  std::string command(const std::string& line) {
    EXPECT_TRUE(p_.write(line + "\n")) << "the recipient no longer reads commands";
    return next_line();
  }
  ChildProcess& process() { return p_; }

 private:
  ChildProcess p_;
  std::size_t seen_ = 0;
};

struct Announced {
  std::string id, at;
};

// "<role> VATID ADDR", then "ready".
Announced announced(Role& r, const std::string& role) {
  std::vector<std::string> lines = r.until_ready();
  if (lines.size() != 1 || lines[0].rfind(role + " ", 0) != 0) {
    ADD_FAILURE() << "the " << role << " did not announce itself";
    return {};
  }
  std::string rest = lines[0].substr(role.size() + 1);
  auto space = rest.find(' ');
  return {rest.substr(0, space), space == std::string::npos ? "" : rest.substr(space + 1)};
}

enum class Transport { unix_socket, tcp };

class Introduction : public ::testing::TestWithParam<Transport> {
 protected:
  std::string listen_at(const std::string& name) const {
    return GetParam() == Transport::tcp ? "127.0.0.1:0" : dir.unix_address(name);
  }
  // C, then B holding C's Counter, then A; A's lines before "ready".
  std::vector<std::string> start(bool introducer_handoff) {
    host = std::make_unique<Role>(std::vector<std::string>{INTRODUCTION_BIN, "host", "--listen", listen_at("c.sock")});
    c = announced(*host, "host");
    std::vector<std::string> b_args{INTRODUCTION_BIN, "introducer", "--listen",  listen_at("b.sock"),
                                    "--host-id",      c.id,         "--host-at", c.at};
    if (!introducer_handoff) b_args.push_back("--no-handoff");
    introducer = std::make_unique<Role>(b_args);
    b = announced(*introducer, "introducer");
    recipient = std::make_unique<Role>(std::vector<std::string>{INTRODUCTION_BIN, "recipient", "--introducer-id", b.id,
                                                                "--introducer-at", b.at, "--calls", "3"},
                                       ChildProcess::Stdin::pipe);
    return recipient->until_ready();
  }
  void kill_introducer() {
    ::kill(introducer->process().pid(), SIGKILL);
    int st = introducer->process().wait(10s);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << describe_wait_status(st);
  }
  // Ends A (end of its input) and C (SIGTERM); A's exit status.
  int finish() {
    recipient->process().close_stdin();
    int st = recipient->process().wait(20s);
    int host_st = host->process().terminate(20s);
    EXPECT_TRUE(WIFEXITED(host_st) && WEXITSTATUS(host_st) == 0) << describe_wait_status(host_st);
    return st;
  }
  std::string answer(int count) const { return "answer " + std::to_string(count) + " from " + c.id; }

  TempDir dir{"vatic-intro"};
  std::unique_ptr<Role> host, introducer, recipient;
  Announced c, b;
};

TEST_P(Introduction, TheRecipientsCallsGoToTheHostAndOutliveAKilledIntroducer) {
  // The introducer took the host's first count; A's calls count on from there.
  std::vector<std::string> before = start(true);
  ASSERT_FALSE(c.id.empty());
  EXPECT_EQ(before, (std::vector<std::string>{answer(2), answer(3), answer(4),
                                              "stats handoffs=1 fallbacks=0 direct=yes introducer=up"}));
  kill_introducer();
  EXPECT_EQ(recipient->command("wait-introducer-gone").rfind("introducer gone: disconnected: ", 0), 0u);
  EXPECT_EQ(recipient->command("call"), answer(5));
  EXPECT_EQ(recipient->command("call"), answer(6));
  EXPECT_EQ(recipient->command("stats"), "stats handoffs=1 fallbacks=0 direct=yes introducer=gone");
  int st = finish();
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << describe_wait_status(st);
}

// The negative control: B does not offer handoff, so it proxies C's Counter
// (section 4) and A's calls break with B.
TEST_P(Introduction, WithoutHandoffAtTheIntroducerItsDeathBreaksTheRecipientsReference) {
  std::vector<std::string> before = start(false);
  ASSERT_FALSE(c.id.empty());
  EXPECT_EQ(before, (std::vector<std::string>{answer(2), answer(3), answer(4),
                                              "stats handoffs=0 fallbacks=0 direct=no introducer=up"}));
  kill_introducer();
  EXPECT_EQ(recipient->command("wait-introducer-gone").rfind("introducer gone: disconnected: ", 0), 0u);
  EXPECT_EQ(recipient->command("call").rfind("broken disconnected", 0), 0u);
  int st = finish();
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) << describe_wait_status(st);  // a call broke
}

INSTANTIATE_TEST_SUITE_P(Transports, Introduction, ::testing::Values(Transport::unix_socket, Transport::tcp),
                         [](const auto& info) { return info.param == Transport::tcp ? "tcp" : "unix"; });

// Bad arguments are refused before any dial, with exit status 2.
TEST(IntroductionUsage, BadVatIdsAndAddressesAreRefused) {
  auto status = [](std::vector<std::string> args) {
    args.insert(args.begin(), INTRODUCTION_BIN);
    ChildProcess p(args);
    p.read_all(20s);
    return p.wait(10s);
  };
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"recipient", "--introducer-id", "not-a-vat-id", "--introducer-at", "127.0.0.1:1"},
           {"introducer", "--listen", "127.0.0.1:0", "--host-id", "x", "--host-at", "127.0.0.1:1"},
           {"recipient", "--introducer-at", "127.0.0.1:1"},
           {"nobody"}}) {
    int st = status(args);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 2) << args[0] << ": " << describe_wait_status(st);
  }
}

}  // namespace
