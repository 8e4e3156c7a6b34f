// Integration tests of the `vatic` exit-code contract (tools/cli_util.h):
// 2 for usage errors, 3 for every refusal (paths outside the grant, denied
// operations, bad, forged, expired or misbound tokens), 4 when the vat cannot
// be reached or does not hold the key the ref names. Every failure is exactly
// one line on stderr starting with "vatic: " (fails_with checks it).
//
//   test process (gtest) --fork/exec, one per command--+
//        |                                             v
//        |                 vatic <cmd> --store <tmp>/store-{b,c}  (holders)
//        | fork/exec                                   |  CapTP, Noise XK
//        v                                             v  127.0.0.1 / unix
//   vatic serve <tmp>/data --store <tmp>/store-server (and a second vat, B,
//   for the wrong-key test; a bound socket with no listener for "unreachable")
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/tools/cli_fixture.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

// A loopback TCP port that is bound (so nobody else gets it) but not
// listening: connecting to it is refused at once.
class DeadPort {
 public:
  DeadPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot bind a loopback port");
    port_ = ntohs(a.sin_port);
  }
  DeadPort(const DeadPort&) = delete;
  DeadPort& operator=(const DeadPort&) = delete;
  ~DeadPort() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(CliTest, UsageErrorsExitTwo) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string s = store("c");
  std::vector<std::vector<std::string>> cases = {
      {},                                     // no command
      {"frobnicate"},                         // unknown command
      {"ls"},                                 // missing TOKEN
      {"cat", root, "--store", s},            // missing PATH
      {"ls", root, "--bogus", "--store", s},  // unknown flag
      {"ls", "not-a-ref-nor-a-file", "--store", s},
      {"attenuate", root, "--ops", "read,fly"},  // bad --ops
      {"attenuate", root, "--expires", "soon"},  // bad --expires
      {"attenuate", root, "--expires", "2026-13-01T00:00:00Z"},
      {"attenuate", root, "--expires", "-1h"},
      {"attenuate", root, "--not-before", "tomorrow"},
      {"attenuate", root, "--for", "not-a-vat-id"},  // bad --for
      {"attenuate", root, "--for", vat_id(s).substr(1)},
      {"attenuate", root, "--path", "../up"},  // a path caveat cannot climb
      {"attenuate", root, "--path", "/abs"},
  };
  for (const auto& args : cases) EXPECT_TRUE(fails_with(run(args), kUsage)) << ::testing::PrintToString(args);
}

// BUG(tools/token_commands.cpp, cmd_attenuate): an empty value for --ops,
// --expires, --not-before, --methods or --max-bytes adds no caveat at all (the
// checks are `!a.ops.empty()` etc.; CLI11 leaves the optional max_bytes unset),
// so `attenuate REF --ops ""` prints a token with all its parent's authority
// and exits 0. A script narrowing with `--ops "$OPS"` or `--expires "$TTL"`
// and an empty variable hands out an unrestricted, never-expiring token.
// Expected: a usage error (2), or (for --methods, where an empty set has a
// meaning) a caveat; never a silently dropped restriction. Enabled: passes
// once fixed.
TEST_F(CliTest, EmptyCaveatValueIsNeverSilentlyDropped) {
  auto server = serve(make_sample_tree(), store("server"));
  for (const char* flag : {"--ops", "--expires", "--not-before", "--methods", "--max-bytes"}) {
    RunResult r = run({"attenuate", server->first_line(), flag, "", "--json"});
    if (r.code == kUsage) {
      EXPECT_TRUE(fails_as_json(r, kUsage, "usage")) << flag;
      continue;
    }
    auto doc = parse_json(r.out);
    const boost::json::value* caveats = doc ? member(*doc, "caveats") : nullptr;
    EXPECT_TRUE(caveats && caveats->is_object() && !caveats->get_object().empty())
        << flag << " \"\" dropped the restriction: " << r.describe();
  }
}

TEST_F(CliTest, PathsOutsideTheGrantAreRefused) {
  std::string data = make_sample_tree();
  fs::create_symlink("../secret.txt", fs::path(data) / "public/link.txt");
  auto server = serve(data, store("server"));
  const std::string root = server->first_line();
  const std::string pub = attenuate(root, {"--path", "public"});
  const std::string s = store("c");

  ASSERT_TRUE(succeeded(run({"cat", pub, "index.txt", "--store", s})));
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"cat", root, "../etc/passwd"},
           {"cat", root, "/etc/passwd"},
           {"ls", root, "/"},
           {"cat", pub, "../secret.txt"},
           {"cat", pub, "docs/../../secret.txt"},
           {"ls", pub, ".."},
           {"cat", pub, "link.txt"},  // a symlink out of the grant
           {"put", pub, "../planted.txt", path("in.txt").string()},
           {"mkdir", pub, "../planted"},
           {"rm", pub, "../secret.txt"},
       }) {
    write_file(path("in.txt"), "x\n");
    std::vector<std::string> all = args;
    all.insert(all.end(), {"--store", s});
    RunResult r = run(all);
    EXPECT_TRUE(fails_with(r, kRefused)) << ::testing::PrintToString(args);
    EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  }
  EXPECT_EQ(read_file(fs::path(data) / "secret.txt"), "top secret\n");
  EXPECT_FALSE(fs::exists(fs::path(data) / "planted.txt"));
  EXPECT_FALSE(fs::exists(fs::path(data) / "planted"));
}

// spec/fs.md through the real binary: links that stay inside the grant are
// followed, links out of it are refused (exit 3), ".." is lexical, `put`
// never writes through a link and `rm` removes the link, not its target.
TEST_F(CliTest, InTreeLinksAndDotDotWorkWhileEscapingOnesAreRefused) {
  std::string data = make_sample_tree();
  const fs::path pub = fs::path(data) / "public";
  fs::create_symlink("docs/c.txt", pub / "latest.txt");
  fs::create_symlink("docs", pub / "current");
  fs::create_symlink("../secret.txt", pub / "up.txt");  // inside the root, not inside public
  fs::create_symlink("/etc/passwd", pub / "passwd");
  auto server = serve(data, store("server"));
  const std::string root = server->first_line();
  const std::string grant = attenuate(root, {"--path", "public"});
  const std::string s = store("c");

  for (const auto& [path, want] : std::vector<std::pair<std::string, std::string>>{
           {"latest.txt", "charlie\n"},
           {"current/c.txt", "charlie\n"},
           {"docs/../index.txt", "public index\n"},
       }) {
    RunResult r = run({"cat", grant, path, "--store", s});
    EXPECT_TRUE(succeeded(r)) << path;
    EXPECT_EQ(r.out, want) << path;
  }
  RunResult wide = run({"cat", root, "public/up.txt", "--store", s});  // from the root, up.txt stays inside
  EXPECT_TRUE(succeeded(wide));
  EXPECT_EQ(wide.out, "top secret\n");

  for (const std::string path : {"up.txt", "passwd", "current/../../secret.txt"}) {
    RunResult r = run({"cat", grant, path, "--store", s});
    EXPECT_TRUE(fails_with(r, kRefused)) << path;
    EXPECT_NE(r.err.find("leaves the directory"), std::string::npos) << r.err;
  }

  write_file(path("in.txt"), "planted\n");
  RunResult put = run({"put", grant, "latest.txt", path("in.txt").string(), "--store", s});
  EXPECT_TRUE(fails_with(put, kRefused));
  EXPECT_NE(put.err.find("writes never go through one"), std::string::npos) << put.err;
  EXPECT_EQ(read_file(pub / "docs/c.txt"), "charlie\n");
  EXPECT_TRUE(fs::is_symlink(pub / "latest.txt"));

  EXPECT_TRUE(succeeded(run({"rm", grant, "latest.txt", "--store", s})));
  EXPECT_FALSE(fs::exists(fs::symlink_status(pub / "latest.txt")));
  EXPECT_EQ(read_file(pub / "docs/c.txt"), "charlie\n");
  EXPECT_EQ(read_file(fs::path(data) / "secret.txt"), "top secret\n");
}

TEST_F(CliTest, OperationsOutsideTheTokensOpsAreRefused) {
  std::string data = make_sample_tree();
  auto server = serve(data, store("server"));
  const std::string root = server->first_line();
  const std::string ro = attenuate(root, {"--ops", "read,list"});
  const std::string list_only = attenuate(root, {"--ops", "list"});
  const std::string s = store("c");
  write_file(path("in.txt"), "overwritten\n");

  ASSERT_TRUE(succeeded(run({"cat", ro, "a.txt", "--store", s})));
  EXPECT_TRUE(fails_with(run({"put", ro, "a.txt", path("in.txt").string(), "--store", s}), kRefused));
  EXPECT_TRUE(fails_with(run({"put", ro, "new.txt", path("in.txt").string(), "--store", s}), kRefused));
  EXPECT_TRUE(fails_with(run({"mkdir", ro, "newdir", "--store", s}), kRefused));
  EXPECT_TRUE(fails_with(run({"rm", ro, "a.txt", "--store", s}), kRefused));
  ASSERT_TRUE(succeeded(run({"ls", list_only, "--store", s})));
  EXPECT_TRUE(fails_with(run({"cat", list_only, "a.txt", "--store", s}), kRefused));
  // Attenuation only narrows: asking a read-only token for write again grants nothing.
  const std::string rewiden = attenuate(ro, {"--ops", "read,list,write,create,delete"});
  EXPECT_TRUE(fails_with(run({"put", rewiden, "a.txt", path("in.txt").string(), "--store", s}), kRefused));

  EXPECT_EQ(read_file(fs::path(data) / "a.txt"), "alpha\n");
  EXPECT_FALSE(fs::exists(fs::path(data) / "new.txt"));
  EXPECT_FALSE(fs::exists(fs::path(data) / "newdir"));
}

TEST_F(CliTest, ReadOnlyServerRefusesEveryWrite) {
  std::string data = make_sample_tree();
  auto server = serve(data, store("server"), "127.0.0.1:0", {"--read-only"});
  const std::string root = server->first_line();
  const std::string s = store("c");
  write_file(path("in.txt"), "overwritten\n");

  RunResult cat = run({"cat", root, "a.txt", "--store", s});
  ASSERT_TRUE(succeeded(cat));
  EXPECT_EQ(cat.out, "alpha\n");
  EXPECT_TRUE(fails_with(run({"put", root, "a.txt", path("in.txt").string(), "--store", s}), kRefused));
  EXPECT_TRUE(fails_with(run({"put", root, "new.txt", path("in.txt").string(), "--store", s}), kRefused));
  EXPECT_TRUE(fails_with(run({"mkdir", root, "newdir", "--store", s}), kRefused));
  EXPECT_TRUE(fails_with(run({"rm", root, "a.txt", "--store", s}), kRefused));
  EXPECT_EQ(read_file(fs::path(data) / "a.txt"), "alpha\n");
  EXPECT_FALSE(fs::exists(fs::path(data) / "new.txt"));
  EXPECT_FALSE(fs::exists(fs::path(data) / "newdir"));
}

TEST_F(CliTest, TamperedForgedAndGarbageTokensAreRefused) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string narrowed = attenuate(root, {"--path", "public", "--ops", "read,list"});
  const std::string s = store("c");
  const std::string id = parse(root).vat.to_text();
  const std::string other_id = vat_id(store("other"));

  std::string swapped_vat = narrowed;  // the token inside still names the server
  swapped_vat.replace(swapped_vat.find(id), id.size(), other_id);
  for (const std::string& bad : {tampered(root), tampered(narrowed), forged_tag(root), forged_tag(narrowed),
                                 swapped_vat, std::string("vatic://garbage"), "vatic://" + id + "/AAAA",
                                 "vatic://" + id + "@" + parse(root).hints[0] + "/" + std::string(120, 'A')}) {
    RunResult r = run({"ls", bad, "--store", s});
    EXPECT_TRUE(fails_with(r, kRefused)) << bad;
    EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(succeeded(run({"ls", narrowed, "--store", s})));
}

TEST_F(CliTest, ExpiredAndNotYetValidTokensAreRefused) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string s = store("c");

  RunResult expired = run({"ls", attenuate(root, {"--expires", "2001-09-09T01:46:40Z"}), "--store", s});
  EXPECT_TRUE(fails_with(expired, kRefused));
  EXPECT_NE(expired.err.find("expired"), std::string::npos) << expired.err;
  RunResult early = run({"ls", attenuate(root, {"--not-before", "1h"}), "--store", s});
  EXPECT_TRUE(fails_with(early, kRefused));
  EXPECT_NE(early.err.find("not yet valid"), std::string::npos) << early.err;
  // Within its window the same kind of token works.
  EXPECT_TRUE(succeeded(
      run({"ls", attenuate(root, {"--expires", "1h", "--not-before", "2001-09-09T01:46:40+02:00"}), "--store", s})));
}

TEST_F(CliTest, TokenBoundToAHolderIsRefusedToAnyoneElse) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  const std::string for_b = attenuate(root, {"--for", vat_id(store("b"))});

  EXPECT_TRUE(succeeded(run({"ls", for_b, "--store", store("b")})));
  RunResult c = run({"ls", for_b, "--store", store("c")});
  EXPECT_TRUE(fails_with(c, kRefused));
  EXPECT_NE(c.err.find("another holder"), std::string::npos) << c.err;
  // Bound to two different holders, it is valid for nobody.
  const std::string both = attenuate(for_b, {"--for", vat_id(store("c"))});
  EXPECT_TRUE(fails_with(run({"ls", both, "--store", store("b")}), kRefused));
  EXPECT_TRUE(fails_with(run({"ls", both, "--store", store("c")}), kRefused));
}

TEST_F(CliTest, UnreachableVatExitsFour) {
  auto server = serve(make_sample_tree(), store("server"));
  const std::string root = server->first_line();
  DeadPort dead;
  RunResult tcp = run({"ls", with_hints(root, {dead.address()}), "--store", store("c")});
  EXPECT_TRUE(fails_with(tcp, kUnreachable));
  RunResult unix_socket = run({"ls", with_hints(root, {unix_listen("nobody.sock")}), "--store", store("c")});
  EXPECT_TRUE(fails_with(unix_socket, kUnreachable));
  // A dialer tries the hints in order: a dead one first does not stop it.
  EXPECT_TRUE(succeeded(run({"ls", with_hints(root, {dead.address(), parse(root).hints[0]}), "--store", store("c")})));
}

TEST_F(CliTest, VatAtTheAddressWithoutTheRefsKeyExitsFour) {
  std::string data = make_sample_tree();
  auto a = serve(data, store("a"));
  auto b = serve(data, store("b"), unix_listen("b.sock"));
  const std::string a_root = a->first_line();
  const std::string b_address = parse(b->first_line()).hints[0];

  // A's ref (A's vat id, A's token) pointed at B: B cannot prove A's key.
  RunResult r = run({"ls", with_hints(a_root, {b_address}), "--store", store("c")});
  EXPECT_TRUE(fails_with(r, kUnreachable));
  // A wrong hint can deny service, never impersonate: with A's address after it, A answers.
  EXPECT_TRUE(succeeded(run({"ls", with_hints(a_root, {b_address, parse(a_root).hints[0]}), "--store", store("c")})));
}

}  // namespace
}  // namespace vatic::test
