// The store of `vatic serve` and `vatic id` kept honest: a lost vat.db is
// refused rather than silently replaced by a new identity (`--init` makes one
// explicitly); one server per store (a second one names the first one's pid
// and touches nothing), while client commands keep using the store; a full
// disk says "no space left on device" and leaves no empty database behind.
//
//   test process --fork/exec--> vatic id | ls | revoke --store <tmp>/store-*
//        |                                     | CapTP, unix:<tmp>/*.sock
//        +--fork/exec--> vatic serve <tmp>/data --store <tmp>/store-server  (one, then a second)
//        +--mount(2)--> <tmp>/small: a 2 MiB tmpfs (root only), filled to ENOSPC
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/tools/cli_fixture.h"
#include "tests/tools/small_fs.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(CliTest, ServeRefusesAStoreWhoseDatabaseWasDeletedAndInitStartsANewIdentity) {
  const std::string data = make_sample_tree();
  const std::string srv = store("server");
  std::string old_root;
  {
    auto server = serve(data, srv, unix_listen("s.sock"));
    old_root = server->first_line();
  }
  const std::string admin_before = read_file(fs::path(srv) / "admin.ref");
  fs::remove(fs::path(srv) / "vat.db");

  RunResult r = run({"serve", data, "--store", srv, "--listen", unix_listen("s.sock")});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_TRUE(has(r.err, "vat.db is missing")) << r.err;
  EXPECT_TRUE(has(r.err, "admin.ref")) << r.err;
  EXPECT_TRUE(has(r.err, "--init")) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(srv) / "vat.db"));
  EXPECT_EQ(read_file(fs::path(srv) / "admin.ref"), admin_before);
  EXPECT_TRUE(fails_with(run({"id", "--store", srv}), 1));

  auto fresh = serve(data, srv, unix_listen("s.sock"), {"--init"});
  EXPECT_NE(parse(fresh->first_line()).vat, parse(old_root).vat);
}

TEST_F(CliTest, AnEmptiedDatabaseIsRefusedUntilIdInit) {
  const std::string s = store("bob");
  const std::string before = vat_id(s);
  fs::resize_file(fs::path(s) / "vat.db", 0);
  RunResult r = run({"id", "--store", s});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_TRUE(has(r.err, "vat.db is empty")) << r.err;
  // A client command does not make a new identity either.
  RunResult ls = run({"ls", "vatic://x", "--store", s});
  EXPECT_TRUE(fails_with(ls, 1));
  EXPECT_TRUE(has(ls.err, "vat.db is empty")) << ls.err;
  RunResult init = run({"id", "--store", s, "--init"});
  ASSERT_TRUE(succeeded(init));
  EXPECT_NE(init.line(), before);
  EXPECT_EQ(vat_id(s), init.line());
}

TEST_F(CliTest, ASecondServeOnTheSameStoreIsRefusedNamingTheFirst) {
  const std::string data = make_sample_tree();
  const std::string srv = store("server");
  auto first = serve(data, srv, unix_listen("a.sock"));
  const fs::path admin = fs::path(srv) / "admin.ref";
  const std::string admin_text = read_file(admin);
  struct stat before {};
  ASSERT_EQ(::stat(admin.c_str(), &before), 0);

  RunResult second = run({"serve", data, "--store", srv, "--listen", unix_listen("b.sock")});
  EXPECT_TRUE(fails_with(second, 1));
  EXPECT_TRUE(has(second.err, "pid " + std::to_string(first->pid()))) << second.err;
  EXPECT_FALSE(fs::exists(path("b.sock"))) << "the second server must stop before it listens";
  struct stat after {};
  ASSERT_EQ(::stat(admin.c_str(), &after), 0);
  EXPECT_EQ(read_file(admin), admin_text);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);

  // Clients never take the lock: the server's own store still works as a
  // client identity, beside the running server.
  EXPECT_TRUE(succeeded(run({"ls", first->first_line(), "--store", srv})));
  EXPECT_TRUE(succeeded(run({"id", "--store", srv})));

  // The lock dies with its holder, however it dies.
  first->kill_now();
  auto again = serve(data, srv, unix_listen("a.sock"));
  EXPECT_EQ(again->first_line(), first->first_line());
}

TEST_F(CliTest, AFullDiskFailsStoreCreationCleanlyAndSaysSo) {
  SmallTmpfs small(path("small"));
  if (!small.mounted()) GTEST_SKIP() << small.why_not();
  ASSERT_TRUE(small.fill());
  const fs::path s = small.path() / "store";
  RunResult r = run({"id", "--store", s.string()});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_TRUE(has(r.err, "no space left on device")) << r.err;
  EXPECT_FALSE(has(r.err, "disk I/O error")) << r.err;
  // Nothing that a later start would take for a store that had an identity.
  for (const auto& n : names_in(s)) EXPECT_FALSE(n.starts_with("vat.db")) << n;
  small.free_filler();
  EXPECT_TRUE(succeeded(run({"id", "--store", s.string()})));
}

TEST_F(CliTest, ARevokeOnAFullStoreSaysNoSpaceLeftOnDevice) {
  SmallTmpfs small(path("small"));
  if (!small.mounted()) GTEST_SKIP() << small.why_not();
  const std::string srv = (small.path() / "store").string();
  auto server = serve(make_sample_tree(), srv, unix_listen("s.sock"));
  const std::string branch = attenuate(server->first_line(), {"--path", "public"});
  ASSERT_TRUE(small.fill());
  RunResult r = run({"revoke", (fs::path(srv) / "admin.ref").string(), branch, "--store", store("c")});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_TRUE(has(r.err, "no space left on device")) << r.err;
  EXPECT_FALSE(has(r.err, "disk I/O error")) << r.err;
  small.free_filler();
  EXPECT_TRUE(succeeded(run({"revoke", (fs::path(srv) / "admin.ref").string(), branch, "--store", store("c")})));
}

}  // namespace
}  // namespace vatic::test
