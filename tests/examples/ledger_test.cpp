// The ledger example (examples/ledger/) run as its reader would: ledger_server
// prints the sturdy ref of a persistent Ledger, ledger_client redeems it from
// another process for each call; the server is killed with SIGKILL and
// started again on the same store, and the ref and the balances survive.
//
//   test ──runs──▶ ledger_server STORE unix:SOCK ──stdout: the ref──▶ test
//   test ──runs──▶ ledger_client REF CMD... ──CapTP over the unix socket──▶ ledger_server ──▶ STORE/ledger.db
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "tests/examples/child_process.h"
#include "tests/temp_dir.h"

#if !defined(LEDGER_SERVER_BIN) || !defined(LEDGER_CLIENT_BIN)
#error "LEDGER_SERVER_BIN and LEDGER_CLIENT_BIN (the ledger example's binaries) must be defined by the build"
#endif

namespace {

using namespace std::chrono_literals;
using vatic::test::ChildProcess;
using vatic::test::describe_wait_status;
using vatic::test::TempDir;

struct ClientRun {
  int status = 0;
  std::string out;
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  int code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

// Runs ledger_client to the end.
ClientRun client(const std::string& ref, std::vector<std::string> args) {
  std::vector<std::string> argv{LEDGER_CLIENT_BIN, ref};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess c(argv);
  std::string out = c.read_all(30s);
  return {c.wait(10s), out};
}

class LedgerTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> start() {
    auto p = std::make_unique<ChildProcess>(
        std::vector<std::string>{LEDGER_SERVER_BIN, (dir / "store").string(), dir.unix_address("s.sock")});
    ref_ = p->first_line(20s);
    EXPECT_EQ(ref_.rfind("vatic://", 0), 0u) << "no sturdy ref from ledger_server: " << ref_;
    return p;
  }
  void sigkill(ChildProcess& p) {
    ::kill(p.pid(), SIGKILL);
    int st = p.wait(10s);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << describe_wait_status(st);
  }

  TempDir dir{"vatic-ledger"};
  std::string ref_;
};

TEST_F(LedgerTest, BalancesAndTheSturdyRefSurviveASigkilledServer) {
  std::string first;
  {
    auto server = start();
    first = ref_;
    EXPECT_EQ(client(first, {"deposit", "alice", "100"}).out, "alice 100\n");
    EXPECT_EQ(client(first, {"transfer", "alice", "bob", "30"}).out, "alice 70\nbob 30\n");
    sigkill(*server);
  }
  auto server = start();
  EXPECT_EQ(ref_, first);
  ClientRun list = client(first, {"list"});
  EXPECT_TRUE(list.ok()) << describe_wait_status(list.status);
  EXPECT_EQ(list.out, "alice 70\nbob 30\ntransfers 1\n");
  EXPECT_EQ(client(first, {"transfer", "bob", "carol", "5"}).out, "bob 25\ncarol 5\n");
  sigkill(*server);

  server = start();
  EXPECT_EQ(client(first, {"list"}).out, "alice 70\nbob 25\ncarol 5\ntransfers 2\n");
}

TEST_F(LedgerTest, AnOverdraftIsRefusedAndRolledBackAndTheLedgerKeepsServing) {
  auto server = start();
  EXPECT_EQ(client(ref_, {"deposit", "alice", "10"}).out, "alice 10\n");
  ClientRun over = client(ref_, {"transfer", "alice", "bob", "11"});
  EXPECT_EQ(over.code(), 1) << describe_wait_status(over.status);
  EXPECT_EQ(over.out, "");
  // Neither the debit, nor the credit (bob was never opened), nor the count.
  EXPECT_EQ(client(ref_, {"list"}).out, "alice 10\ntransfers 0\n");
  ClientRun bob = client(ref_, {"balance", "bob"});
  EXPECT_EQ(bob.code(), 1);
  sigkill(*server);
  server = start();
  EXPECT_EQ(client(ref_, {"list"}).out, "alice 10\ntransfers 0\n");
  EXPECT_EQ(client(ref_, {"transfer", "alice", "bob", "10"}).out, "alice 0\nbob 10\n");
}

TEST_F(LedgerTest, ClientRefusesBadUsageWithoutCalling) {
  auto server = start();
  EXPECT_EQ(client(ref_, {"deposit", "alice", "ten"}).code(), 2);
  EXPECT_EQ(client(ref_, {"transfer", "alice", "bob"}).code(), 2);
  EXPECT_EQ(client("vatic://not-a-ref", {"list"}).code(), 2);
  ClientRun negative = client(ref_, {"deposit", "alice", "-5"});
  EXPECT_EQ(negative.code(), 1);  // the ledger refuses it
  EXPECT_EQ(client(ref_, {"list"}).out, "transfers 0\n");
}

}  // namespace
