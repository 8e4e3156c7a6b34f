// Integration tests of the `vatic` command-line tool, driven as a user drives
// it: identities and stores, `serve`, and the filesystem commands' round trips
// with their --json output. Exit codes of refusals: cli_refusal_test.cpp;
// revocation and restarts: cli_revoke_test.cpp.
//
//   test process (gtest) --fork/exec, one per command--+
//        |                                             v
//        |                    vatic id|ls|cat|get|put|rm|mkdir|attenuate
//        |                      --store <tmp>/store-client
//        | fork/exec, stdout: root ref                 | CapTP over Noise XK:
//        v                                             | 127.0.0.1:<port 0>
//   vatic serve <tmp>/data --store <tmp>/store-server <+  or unix:<tmp>/<sock>
//
// Every test has its own /tmp/vatic-cli-XXXXXX and its own server, which
// ServerProcess stops (SIGTERM, expecting exit 0) and reaps.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>

#include "tests/tools/cli_fixture.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

TEST_F(CliTest, IdIsStablePerStoreAndDiffersBetweenStores) {
  std::string a1 = vat_id(store("a"));
  std::string a2 = vat_id(store("a"));
  std::string b = vat_id(store("b"));
  EXPECT_EQ(a1.size(), 56u) << a1;
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b);

  RunResult j = run({"id", "--store", store("a"), "--json"});
  ASSERT_TRUE(succeeded(j));
  auto doc = parse_json(j.out);
  ASSERT_TRUE(doc && doc->is_object()) << j.out;
  EXPECT_EQ(str(*doc, "vat_id"), a1);
  EXPECT_EQ(str(*doc, "store"), store("a"));
}

TEST_F(CliTest, StoreIsCreatedPrivateAndServeWritesAPrivateAdminRef) {
  ASSERT_FALSE(vat_id(store("s")).empty());
  EXPECT_EQ(file_mode(store("s")), 0700u);
  EXPECT_EQ(file_mode(fs::path(store("s")) / "vat.db"), 0600u);

  auto server = serve(make_sample_tree(), store("s"));
  fs::path admin = fs::path(store("s")) / "admin.ref";
  EXPECT_EQ(file_mode(admin), 0600u);
  EXPECT_TRUE(read_file(admin).starts_with("vatic://"));
  // Nothing in the store (SQLite's journal files included) is open to others.
  for (const auto& e : fs::directory_iterator(store("s")))
    EXPECT_EQ(file_mode(e.path()) & 077, 0u) << e.path() << " has mode " << std::oct << file_mode(e.path());
}

// BUG(tools/cli_util.cpp store_dir + sturdyrefs/store.cpp prepare_dir): the
// default store is $HOME/.local/share/vatic, but only its last component is
// created (mkdir, not mkdir -p), so on a fresh account without ~/.local/share
// the first `vatic id` (or `vatic serve`) without --store exits 1 with
// "vatic: store /home/u/.local/share/vatic: cannot create: No such file or
// directory". Expected: the parents are created and the command succeeds with
// a 0700 store. Enabled: passes once fixed.
TEST_F(CliTest, DefaultStoreIsCreatedUnderAFreshHome) {
  RunResult r = run({"id"});  // HOME is <tmp>/home, empty
  EXPECT_TRUE(succeeded(r));
  EXPECT_EQ(file_mode(path("home") / ".local/share/vatic"), 0700u);
}

TEST_F(CliTest, StoreOpenToOtherUsersIsRejected) {
  fs::create_directory(store("open"));
  ::chmod(store("open").c_str(), 0755);
  RunResult r = run({"id", "--store", store("open")});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_NE(r.err.find("chmod 700"), std::string::npos) << r.err;
}

TEST_F(CliTest, ServePrintsAParseableRootRefOfItsOwnVat) {
  auto server = serve(make_sample_tree(), store("server"));
  auto ref = sturdyrefs::parse_sturdy_ref(server->first_line());
  ASSERT_TRUE(ref) << ref.error() << ": " << server->first_line();
  EXPECT_EQ(ref->vat.to_text(), vat_id(store("server")));
  ASSERT_EQ(ref->hints.size(), 1u);
  EXPECT_TRUE(ref->hints[0].starts_with("127.0.0.1:")) << ref->hints[0];
  EXPECT_NE(ref->hints[0], "127.0.0.1:0") << "the ref must carry the bound port";
  EXPECT_TRUE(ref->token.caveats.empty());
}

TEST_F(CliTest, ServeJsonPrintsRootAdminRefFileVatIdAndListenAddresses) {
  auto server = serve(make_sample_tree(), store("server"), unix_listen("s.sock"), {"--json"});
  auto doc = parse_json(server->first_line());
  ASSERT_TRUE(doc && doc->is_object()) << server->first_line();
  auto root = str(*doc, "root");
  ASSERT_TRUE(root);
  ASSERT_TRUE(sturdyrefs::parse_sturdy_ref(*root)) << *root;
  EXPECT_EQ(str(*doc, "admin_ref_file"), (fs::path(store("server")) / "admin.ref").string());
  EXPECT_EQ(str(*doc, "vat_id"), vat_id(store("server")));
  const boost::json::value* listen = member(*doc, "listen");
  ASSERT_TRUE(listen && listen->is_array() && listen->get_array().size() == 1);
  EXPECT_EQ(listen->get_array()[0], boost::json::value(unix_listen("s.sock")));
  // The ref names the socket it listens on, and works.
  EXPECT_EQ(parse(*root).hints, std::vector<std::string>{unix_listen("s.sock")});
  RunResult r = run({"cat", *root, "a.txt", "--store", store("client")});
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r.out, "alpha\n");
}

TEST_F(CliTest, LsCatGetPutRmMkdirRoundTrip) {
  std::string data = make_sample_tree();
  auto server = serve(data, store("server"));
  const std::string root = server->first_line();
  const std::string s = store("client");

  RunResult ls = run({"ls", root, "--store", s});
  ASSERT_TRUE(succeeded(ls));
  EXPECT_NE(ls.out.find("file\t6\t"), std::string::npos) << ls.out;  // a.txt, 6 bytes
  for (const char* name : {"\ta.txt\n", "\tnotes/\n", "\tpublic/\n", "\tsecret.txt\n"})
    EXPECT_NE(ls.out.find(name), std::string::npos) << name << " missing from:\n" << ls.out;
  RunResult sub = run({"ls", root, "public/docs", "--store", s});
  ASSERT_TRUE(succeeded(sub));
  EXPECT_NE(sub.out.find("\tc.txt\n"), std::string::npos) << sub.out;

  RunResult cat = run({"cat", root, "notes/b.txt", "--store", s});
  ASSERT_TRUE(succeeded(cat));
  EXPECT_EQ(cat.out, "bravo\n");

  ASSERT_TRUE(succeeded(run({"mkdir", root, "uploads", "--store", s})));
  EXPECT_TRUE(fs::is_directory(fs::path(data) / "uploads"));

  write_file(path("in.txt"), "from a file\n");
  ASSERT_TRUE(succeeded(run({"put", root, "uploads/x.txt", path("in.txt").string(), "--store", s})));
  EXPECT_EQ(read_file(fs::path(data) / "uploads/x.txt"), "from a file\n");
  // put from stdin over an existing, longer file: the file is replaced, not patched.
  write_file(path("stdin.txt"), "short\n");
  ASSERT_TRUE(
      succeeded(run({"put", root, "uploads/x.txt", "--store", s}, RunOptions{.stdin_file = path("stdin.txt")})));
  EXPECT_EQ(read_file(fs::path(data) / "uploads/x.txt"), "short\n");

  // get into a named file, and get with no OUT (named after the file, in the cwd).
  ASSERT_TRUE(succeeded(run({"get", root, "uploads/x.txt", path("out.txt").string(), "--store", s})));
  EXPECT_EQ(read_file(path("out.txt")), "short\n");
  fs::create_directory(path("cwd"));
  ASSERT_TRUE(succeeded(run({"get", root, "public/docs/c.txt", "--store", s}, RunOptions{.cwd = path("cwd")})));
  EXPECT_EQ(read_file(path("cwd") / "c.txt"), "charlie\n");
  RunResult to_stdout = run({"get", root, "a.txt", "-", "--store", s});
  ASSERT_TRUE(succeeded(to_stdout));
  EXPECT_EQ(to_stdout.out, "alpha\n");

  ASSERT_TRUE(succeeded(run({"rm", root, "uploads/x.txt", "--store", s})));
  EXPECT_FALSE(fs::exists(fs::path(data) / "uploads/x.txt"));
  ASSERT_TRUE(succeeded(run({"rm", root, "uploads", "--store", s})));
  EXPECT_FALSE(fs::exists(fs::path(data) / "uploads"));
  EXPECT_FALSE(fs::exists(path("out.txt.part")));
  EXPECT_FALSE(fs::exists(path("cwd") / "c.txt.part"));
}

TEST_F(CliTest, MultiMebibyteFileRoundTripsByteExactThroughPutAndGet) {
  std::string data = make_sample_tree();
  auto server = serve(data, store("server"));
  const std::string root = server->first_line();

  std::string big(5 * 1024 * 1024 + 12345, '\0');  // not a multiple of any chunk size
  std::mt19937_64 rng(42);
  for (auto& c : big) c = static_cast<char>(rng());
  write_file(path("big.bin"), big);

  ASSERT_TRUE(succeeded(run({"put", root, "big.bin", path("big.bin").string(), "--store", store("c")})));
  EXPECT_TRUE(read_file(fs::path(data) / "big.bin") == big) << "the served copy differs";
  RunResult get = run({"get", root, "big.bin", path("back.bin").string(), "--store", store("c"), "--json"});
  ASSERT_TRUE(succeeded(get));
  EXPECT_TRUE(read_file(path("back.bin")) == big) << "the downloaded copy differs";
  EXPECT_FALSE(fs::exists(path("back.bin.part")));
  auto doc = parse_json(get.out);
  ASSERT_TRUE(doc && doc->is_object()) << get.out;
  EXPECT_EQ(number(*doc, "bytes"), static_cast<double>(big.size()));
}

TEST_F(CliTest, FailedGetLeavesNeitherTheFileNorItsPart) {
  auto server = serve(make_sample_tree(), store("server"));
  RunResult r = run({"get", server->first_line(), "nope.txt", path("out.txt").string(), "--store", store("c")});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("out.txt")));
  EXPECT_FALSE(fs::exists(path("out.txt.part")));
}

TEST_F(CliTest, RefMayBeGivenAsTheFileHoldingIt) {
  auto server = serve(make_sample_tree(), store("server"));
  write_file(path("root.ref"), server->first_line() + "\n");
  RunResult r = run({"cat", path("root.ref").string(), "a.txt", "--store", store("c")});
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(r.out, "alpha\n");
}

TEST_F(CliTest, JsonOutputsAreSingleObjectsWithTheirFields) {
  std::string data = make_sample_tree();
  auto server = serve(data, store("server"));
  const std::string root = server->first_line();
  const std::string s = store("c");
  auto json_of = [&](const std::vector<std::string>& args) {
    std::vector<std::string> all = args;
    all.insert(all.end(), {"--store", s, "--json"});
    RunResult r = run(all);
    EXPECT_TRUE(succeeded(r));
    auto doc = parse_json(r.out);
    EXPECT_TRUE(doc && doc->is_object()) << ::testing::PrintToString(args) << " printed: " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one line: " << r.out;
    return doc.value_or(boost::json::value{});
  };

  boost::json::value ls = json_of({"ls", root, "notes"});
  EXPECT_EQ(str(ls, "path"), "notes");
  const boost::json::value* entries = member(ls, "entries");
  ASSERT_TRUE(entries && entries->is_array() && entries->get_array().size() == 1);
  const boost::json::value& b = entries->get_array()[0];
  EXPECT_EQ(str(b, "name"), "b.txt");
  EXPECT_EQ(str(b, "type"), "file");
  EXPECT_EQ(number(b, "size"), 6);

  EXPECT_EQ(str(json_of({"mkdir", root, "j"}), "op"), "mkdir");
  write_file(path("in.txt"), "json\n");
  boost::json::value put = json_of({"put", root, "j/f.txt", path("in.txt").string()});
  EXPECT_EQ(str(put, "op"), "put");
  EXPECT_EQ(number(put, "bytes"), 5);
  boost::json::value get = json_of({"get", root, "j/f.txt", path("f.txt").string()});
  EXPECT_EQ(str(get, "out"), path("f.txt").string());
  boost::json::value rm = json_of({"rm", root, "j/f.txt"});
  EXPECT_EQ(str(rm, "path"), "j/f.txt");
  EXPECT_TRUE(is_true(rm, "ok"));

  RunResult att = run({"attenuate", root, "--path", "public", "--ops", "read,list", "--expires", "1h", "--json"});
  ASSERT_TRUE(succeeded(att));
  auto a = parse_json(att.out);
  ASSERT_TRUE(a && a->is_object()) << att.out;
  ASSERT_TRUE(str(*a, "sturdy_ref"));
  EXPECT_TRUE(sturdyrefs::parse_sturdy_ref(*str(*a, "sturdy_ref")));
  EXPECT_TRUE(member(*a, "caveats") && member(*a, "caveats")->is_object()) << att.out;

  boost::json::value rv =
      json_of({"revoke", (fs::path(store("server")) / "admin.ref").string(), *str(*a, "sturdy_ref")});
  EXPECT_TRUE(is_true(rv, "ok"));
  EXPECT_TRUE(str(rv, "revoked"));
}

}  // namespace
}  // namespace vatic::test
