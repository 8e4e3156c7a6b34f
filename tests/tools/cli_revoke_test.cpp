// Integration tests of revocation and restarts through the `vatic` CLI:
// revoking a branch cuts it and its descendants but not its siblings or its
// parent; revoking the root token revokes the object; a server stopped by
// SIGTERM or SIGINT exits 0, and restarted on the same store and socket it
// serves the same root ref, honours refs issued before the restart, and keeps
// its revocations.
//
//   test process (gtest) --fork/exec, one per command--+
//        |                                             v
//        |              vatic ls|attenuate|revoke --store <tmp>/store-c
//        | fork/exec; SIGTERM/SIGINT; again            |  CapTP, Noise XK
//        v                                             v  unix:<tmp>/s.sock
//   vatic serve <tmp>/data --store <tmp>/store-server  (same store, same socket
//                                                       across the restart)
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <csignal>

#include <filesystem>
#include <string>
#include <utility>

#include "tests/tools/cli_fixture.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

::testing::AssertionResult exited_cleanly(int status) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << describe_wait_status(status);
}

TEST_F(CliTest, RevokingABranchCutsItAndItsDescendantsOnly) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string admin = (fs::path(store("server")) / "admin.ref").string();
  const std::string s = store("c");
  const std::string pub = attenuate(root, {"--path", "public"});
  const std::string pub_ro = attenuate(pub, {"--ops", "read,list"});  // a descendant of pub
  const std::string pub_docs = attenuate(pub, {"--path", "docs"});    // another descendant
  const std::string sibling = attenuate(root, {"--path", "notes"});   // a sibling branch
  // Attenuation is deterministic: the same caveat on the same parent is the same
  // token, hence in pub's branch. A separate branch to public/ starts with
  // another caveat.
  EXPECT_EQ(attenuate(root, {"--path", "public"}), pub);
  const std::string pub_again = attenuate(attenuate(root, {"--ops", "read,list"}), {"--path", "public"});
  for (const auto& ref : {root, pub, pub_ro, pub_docs, sibling, pub_again})
    ASSERT_TRUE(succeeded(run({"ls", ref, "--store", s})));

  RunResult rv = run({"revoke", admin, pub, "--store", s});
  ASSERT_TRUE(succeeded(rv));
  EXPECT_FALSE(rv.out.empty());
  for (const auto& ref : {pub, pub_ro, pub_docs}) {
    RunResult r = run({"ls", ref, "--store", s});
    EXPECT_TRUE(fails_with(r, kRefused)) << ref;
    EXPECT_NE(r.err.find("refused: invalid token"), std::string::npos) << r.err;
  }
  // The parent, a sibling, and a different token for the same subdirectory still work.
  for (const auto& ref : {root, sibling, pub_again}) EXPECT_TRUE(succeeded(run({"ls", ref, "--store", s}))) << ref;
  // Narrowing a revoked token does not bring it back.
  EXPECT_TRUE(fails_with(run({"ls", attenuate(pub, {"--ops", "list"}), "--store", s}), kRefused));
}

TEST_F(CliTest, RevokingTheRootTokenRevokesEveryTokenForTheObject) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string admin = (fs::path(store("server")) / "admin.ref").string();
  const std::string s = store("c");
  const std::string a = attenuate(root, {"--path", "public"});
  const std::string b = attenuate(root, {"--ops", "read,list", "--expires", "1h"});

  ASSERT_TRUE(succeeded(run({"revoke", admin, root, "--store", s})));
  for (const auto& ref : {root, a, b}) EXPECT_TRUE(fails_with(run({"ls", ref, "--store", s}), kRefused)) << ref;
}

TEST_F(CliTest, OnlyTheAdminRefRevokes) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string s = store("c");
  const std::string pub = attenuate(root, {"--path", "public"});

  // The root directory ref is not an admin ref: it cannot revoke, not even its own child.
  RunResult r = run({"revoke", root, pub, "--store", s});
  EXPECT_NE(r.code, 0) << r.describe();
  EXPECT_TRUE(r.err.starts_with("vatic: ")) << r.describe();
  EXPECT_TRUE(succeeded(run({"ls", pub, "--store", s})));
  // Nor can an attenuated admin ref bound to someone else.
  const std::string admin = (fs::path(store("server")) / "admin.ref").string();
  const std::string admin_for_b = attenuate(admin, {"--for", vat_id(store("b"))});
  EXPECT_TRUE(fails_with(run({"revoke", admin_for_b, pub, "--store", s}), kRefused));
  EXPECT_TRUE(succeeded(run({"ls", pub, "--store", s})));
}

// BUG(tools/client.cpp: Client uses the store's identity for its node): a
// command run with the server's own store has the server's vat id, and the
// node refuses to dial itself: `vatic revoke STORE/admin.ref TOKEN --store
// STORE` (and `vatic ls ROOT --store STORE`) exit 1 with "vatic: a vat does
// not connect to itself". With the default store on both sides (one user,
// no --store: the natural workflow on the serving machine) no command
// reaches the user's own server, revoke included. Expected: exit 0 (e.g. the
// client dials with a fresh identity when its own is the ref's vat).
// Enabled: passes once fixed.
TEST_F(CliTest, CommandsWorkFromTheServersOwnStore) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string pub = attenuate(root, {"--path", "public"});
  const std::string admin = (fs::path(store("server")) / "admin.ref").string();
  EXPECT_TRUE(succeeded(run({"ls", root, "--store", store("server")})));
  EXPECT_TRUE(succeeded(run({"revoke", admin, pub, "--store", store("server")})));
  EXPECT_TRUE(fails_with(run({"ls", pub, "--store", store("c")}), kRefused));
}

TEST_F(CliTest, RestartOnTheSameStoreAndSocketKeepsRefsAndRevocations) {
  std::string data = make_sample_tree();
  const std::string listen = unix_listen("s.sock");
  const std::string admin = (fs::path(store("server")) / "admin.ref").string();
  const std::string s = store("c");
  std::string root, kept, revoked, admin_text;
  {
    auto server = serve(data, store("server"), listen);
    root = server->first_line();
    admin_text = read_file(admin);
    kept = attenuate(root, {"--path", "public", "--ops", "read,list", "--for", vat_id(s), "--expires", "1h"});
    revoked = attenuate(root, {"--path", "notes"});
    ASSERT_TRUE(succeeded(run({"ls", kept, "--store", s})));
    ASSERT_TRUE(succeeded(run({"revoke", admin, revoked, "--store", s})));

    EXPECT_TRUE(exited_cleanly(server->stop(SIGTERM))) << server->log();
    EXPECT_NE(server->log().find("SIGTERM received, stopping"), std::string::npos) << server->log();
  }
  // Stopped: the socket file is gone and the refs now find nobody.
  EXPECT_FALSE(fs::exists(path("s.sock")));
  EXPECT_TRUE(fails_with(run({"ls", kept, "--store", s}), kUnreachable));

  auto again = serve(data, store("server"), listen);
  EXPECT_EQ(again->first_line(), root);
  EXPECT_EQ(read_file(admin), admin_text);
  RunResult cat = run({"cat", kept, "docs/c.txt", "--store", s});
  ASSERT_TRUE(succeeded(cat)) << again->log();
  EXPECT_EQ(cat.out, "charlie\n");
  EXPECT_TRUE(fails_with(run({"ls", revoked, "--store", s}), kRefused));
  EXPECT_TRUE(exited_cleanly(again->stop(SIGINT))) << again->log();
  EXPECT_NE(again->log().find("SIGINT received, stopping"), std::string::npos) << again->log();
}

TEST_F(CliTest, RestartAfterSigkillReclaimsTheStaleSocket) {
  std::string data = make_sample_tree();
  const std::string listen = unix_listen("s.sock");
  std::string root;
  {
    auto server = serve(data, store("server"), listen);
    root = server->first_line();
    EXPECT_TRUE(WIFSIGNALED(server->kill_now()));
  }
  ASSERT_TRUE(fs::exists(path("s.sock"))) << "a killed server leaves its socket file behind";
  auto again = serve(data, store("server"), listen);
  EXPECT_EQ(again->first_line(), root);
  EXPECT_TRUE(succeeded(run({"ls", root, "--store", store("c")})));
}

TEST_F(CliTest, SecondServerOnALiveSocketFailsAndLeavesTheFirstServing) {
  std::string data = make_sample_tree();
  const std::string listen = unix_listen("s.sock");
  auto first = serve(data, store("server"), listen);
  RunResult second =
      run({"serve", data, "--store", store("other"), "--listen", listen}, RunOptions{.deadline = milliseconds(10'000)});
  EXPECT_TRUE(fails_with(second, 1));
  EXPECT_TRUE(succeeded(run({"ls", first->first_line(), "--store", store("c")})));
}

// BUG(tools/serve.cpp, cmd_serve): the root ref is printed and flushed before
// the signal_set for SIGINT and SIGTERM exists, so a script or supervisor that
// sends SIGTERM as soon as it has read the ref can kill the server with the
// default action (killed by SIGTERM, exit status 143 in a shell, its socket
// file left behind) instead of stopping it cleanly with exit 0. Seen as a
// flaky failure under load; made deterministic here: the server's stderr is a
// full pipe, so it blocks writing its "serving ..." line, which comes after
// the ref and before the handlers; the test sends SIGTERM then, and only then
// drains stderr. (It relies on that order: ref on stdout, then the stderr line.)
// Expected: exit 0. Passes once the handlers are installed before the ref is
// printed, with flags::restart (asio registers them with sa_flags 0, so a
// handled signal would otherwise interrupt that blocked stderr write with
// EINTR). Until then ServerProcess also waits for the handlers.
TEST_F(CliTest, ServeHandlesSignalsAsSoonAsItPrintsItsRootRef) {
  struct Fd {
    int fd = -1;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  } out_r, out_w, err_r, err_w, in;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  out_r.fd = p[0], out_w.fd = p[1];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  err_r.fd = p[0], err_w.fd = p[1];
  const std::string page(4096, 'x');
  while (::write(err_w.fd, page.data(), page.size()) > 0) {
  }
  while (::write(err_w.fd, "x", 1) > 0) {
  }
  ASSERT_EQ(::fcntl(err_w.fd, F_SETFL, 0), 0);  // full, and the server's writes block rather than fail
  in.fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  detail::ExecArgs exec({"serve", make_sample_tree(), "--store", store("server"), "--listen", unix_listen("s.sock")},
                        path("home"));
  struct Child {
    pid_t pid;
    int status = -1;
    ~Child() {
      if (status < 0) detail::kill_and_reap(pid);
    }
  } child{detail::spawn(exec, in.fd, out_w.fd, err_w.fd, {})};
  ::close(std::exchange(out_w.fd, -1));
  ::close(std::exchange(err_w.fd, -1));

  // Read the root ref line; the server is now blocked on its stderr line.
  std::string line;
  auto end = Clock::now() + kServeDeadline;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
    ASSERT_GT(left, 0) << "no root ref in time";
    pollfd pf{out_r.fd, POLLIN, 0};
    if (::poll(&pf, 1, static_cast<int>(left)) <= 0) continue;
    char buf[512];
    ssize_t got = ::read(out_r.fd, buf, sizeof buf);
    ASSERT_GT(got, 0) << "vatic serve ended before printing its root ref";
    line.append(buf, static_cast<std::size_t>(got));
  }
  EXPECT_TRUE(line.starts_with("vatic://")) << line;
  ::kill(child.pid, SIGTERM);

  // Let it write its stderr lines, until it exits and the pipe closes.
  while (Clock::now() < end) {
    pollfd pf{err_r.fd, POLLIN, 0};
    ::poll(&pf, 1, 100);
    char buf[65536];
    ssize_t got = ::read(err_r.fd, buf, sizeof buf);
    if (got == 0) break;
  }
  child.status = detail::wait_for_exit(child.pid, milliseconds(10'000));
  EXPECT_TRUE(exited_cleanly(child.status));
}

TEST_F(CliTest, SigintStopsAServerOnTcpCleanly) {
  auto server = serve(make_sample_tree(), store("server"));
  ASSERT_TRUE(succeeded(run({"ls", server->first_line(), "--store", store("c")})));
  EXPECT_TRUE(exited_cleanly(server->stop(SIGINT))) << server->log();
  EXPECT_NE(server->log().find("SIGINT received, stopping"), std::string::npos) << server->log();
}

}  // namespace
}  // namespace vatic::test
