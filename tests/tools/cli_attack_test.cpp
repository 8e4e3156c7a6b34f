// Attacks on the `vatic` command-line tool from the security review of the
// sturdy-ref and filesystem commands: refs that outlive what `serve` was told
// to serve, names that forge `ls` lines or drive the terminal, and a `get`
// whose OUT.part already exists.
//
//   test process (gtest) --fork/exec--> vatic ls|cat|get|put --store <tmp>/store-c
//        |                                         | CapTP over Noise XK
//        v                                         v unix:<tmp>/s.sock
//   vatic serve <tmp>/data [--read-only] --store <tmp>/store-server
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "tests/tools/cli_fixture.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

// A store keeps every directory a `serve` ever minted a root ref for; a later
// `serve --read-only` of the same directory (whose help says "no token can
// write") must not go on honouring the writable root ref of the earlier run.
TEST_F(CliTest, ReadOnlyServeDoesNotHonourAnEarlierWritableRootRef) {
  std::string data = make_sample_tree();
  const std::string listen = unix_listen("s.sock");
  const std::string s = store("c");
  std::string writable;
  {
    auto server = serve(data, store("server"), listen);
    writable = server->first_line();
  }
  auto ro = serve(data, store("server"), listen, {"--read-only"});
  EXPECT_NE(ro->first_line(), writable);
  write_file(path("in.txt"), "overwritten\n");
  EXPECT_TRUE(fails_with(run({"put", writable, "a.txt", path("in.txt").string(), "--store", s}), kRefused));
  EXPECT_TRUE(fails_with(run({"mkdir", writable, "newdir", "--store", s}), kRefused));
  EXPECT_EQ(read_file(fs::path(data) / "a.txt"), "alpha\n");
  EXPECT_FALSE(fs::exists(fs::path(data) / "newdir"));
  // The read-only root ref itself works.
  RunResult cat = run({"cat", ro->first_line(), "a.txt", "--store", s});
  ASSERT_TRUE(succeeded(cat)) << ro->log();
  EXPECT_EQ(cat.out, "alpha\n");
}

// The same for a store reused to serve another directory: the first one is
// no longer served.
TEST_F(CliTest, ServingAnotherDirectoryStopsServingTheFirst) {
  std::string data = make_sample_tree();
  fs::create_directory(path("other"));
  write_file(path("other/o.txt"), "other\n");
  const std::string listen = unix_listen("s.sock");
  const std::string s = store("c");
  std::string first;
  {
    auto server = serve(data, store("server"), listen);
    first = server->first_line();
  }
  auto again = serve(path("other").string(), store("server"), listen);
  EXPECT_TRUE(fails_with(run({"cat", first, "secret.txt", "--store", s}), kRefused));
  RunResult cat = run({"cat", again->first_line(), "o.txt", "--store", s});
  ASSERT_TRUE(succeeded(cat)) << again->log();
  EXPECT_EQ(cat.out, "other\n");
}

// Anyone who may create files in the served tree chooses their names: a name
// with a newline and tabs must not forge a listing line, one with ESC or a C1
// control must not reach the terminal.
TEST_F(CliTest, LsPrintsOneLinePerEntryWhateverTheNames) {
  std::string data = make_sample_tree();
  write_file(fs::path(data) / "public/x\nfile\t1\t1\tforged.txt", "x");
  write_file(fs::path(data) / "public/\x1b]0;pwned\x07", "y");
  write_file(fs::path(data) /
                 "public/c1\xc2\x9b"
                 "31m",
             "z");
  write_file(fs::path(data) / "public/caf\xc3\xa9", "w");
  auto server = serve(data, store("server"));
  RunResult ls = run({"ls", server->first_line(), "public", "--store", store("c")});
  ASSERT_TRUE(succeeded(ls));
  // docs/, index.txt and the four files above.
  EXPECT_EQ(std::count(ls.out.begin(), ls.out.end(), '\n'), 6) << ls.out;
  EXPECT_EQ(ls.out.find("\tforged.txt\n"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\tx\\nfile\\t1\\t1\\tforged.txt\n"), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find('\x1b'), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\t\\x1b]0;pwned\\x07\n"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\tc1\\xc2\\x9b31m\n"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\tcaf\xc3\xa9\n"), std::string::npos) << ls.out;  // printable UTF-8 stays as it is
  // --json keeps the exact names (escaped the JSON way).
  RunResult json = run({"ls", server->first_line(), "public", "--json", "--store", store("c")});
  ASSERT_TRUE(succeeded(json));
  EXPECT_NE(json.out.find("\"x\\nfile\\t1\\t1\\tforged.txt\""), std::string::npos) << json.out;
}

// Failure messages are one line on stderr, even when the reason that came
// back carries a newline or an escape.
TEST_F(CliTest, FailureMessagesStayOneLine) {
  auto server = serve(make_sample_tree(), store("server"));
  RunResult r = run({"cat", server->first_line(), "no\nsuch\x1b[2J", "--store", store("c")});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
}

// OUT.part already exists as a hard link to another file (planted in a shared
// directory, or left over): `get` must not write through it.
TEST_F(CliTest, GetNeverWritesThroughAnExistingPartFile) {
  auto server = serve(make_sample_tree(), store("server"));
  write_file(path("victim.txt"), "precious\n");
  ASSERT_EQ(::link(path("victim.txt").c_str(), path("out.txt.part").c_str()), 0);
  RunResult r = run({"get", server->first_line(), "a.txt", path("out.txt").string(), "--store", store("c")});
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(read_file(path("out.txt")), "alpha\n");
  EXPECT_EQ(read_file(path("victim.txt")), "precious\n");
  EXPECT_FALSE(fs::exists(path("out.txt.part")));
}

}  // namespace
}  // namespace vatic::test
