// `vatic get` and `vatic put` as transfers: get never replaces a local file
// unless told to (--force), and even then not before the whole file has
// arrived; neither draws a progress line when stderr is not a terminal.
//
//   test process (gtest) --fork/exec--> vatic get|put ... --store <tmp>/store-c
//        |        (stderr: a pipe)                 | CapTP over Noise XK
//        v                                         v 127.0.0.1:<port 0>
//   vatic serve <tmp>/data --store <tmp>/store-server   (killed mid-transfer in one test)
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "tests/tools/cli_fixture.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

TEST_F(CliTest, GetRefusesToReplaceAnExistingFileWithoutForce) {
  auto server = serve(make_sample_tree(), store("server"));
  write_file(path("out.txt"), "precious\n");
  auto before = fs::last_write_time(path("out.txt"));
  RunResult r = run({"get", server->first_line(), "a.txt", path("out.txt").string(), "--store", store("c")});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_NE(r.err.find(path("out.txt").string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(path("out.txt")), "precious\n");
  EXPECT_EQ(fs::last_write_time(path("out.txt")), before);
  EXPECT_FALSE(fs::exists(path("out.txt.part")));
  // The same for the default OUT (named after the remote file, in the cwd),
  // and for a symlink at OUT: its target is not written through.
  fs::create_directory(path("cwd"));
  write_file(path("cwd") / "a.txt", "mine\n");
  EXPECT_TRUE(fails_with(run({"get", server->first_line(), "a.txt", "--store", store("c")}, {.cwd = path("cwd")}), 1));
  EXPECT_EQ(read_file(path("cwd") / "a.txt"), "mine\n");
  fs::create_symlink(path("out.txt"), path("link.txt"));
  EXPECT_TRUE(
      fails_with(run({"get", server->first_line(), "a.txt", path("link.txt").string(), "--store", store("c")}), 1));
  EXPECT_EQ(read_file(path("out.txt")), "precious\n");
  // With --json, the refusal is JSON.
  EXPECT_TRUE(fails_as_json(
      run({"get", server->first_line(), "a.txt", path("out.txt").string(), "--store", store("c"), "--json"}), 1,
      "failed"));
}

TEST_F(CliTest, GetWithForceReplacesTheFileAndASymlinkItself) {
  auto server = serve(make_sample_tree(), store("server"));
  write_file(path("out.txt"), "old contents, longer than the new\n");
  ASSERT_TRUE(succeeded(
      run({"get", server->first_line(), "a.txt", path("out.txt").string(), "--force", "--store", store("c")})));
  EXPECT_EQ(read_file(path("out.txt")), "alpha\n");
  write_file(path("target.txt"), "target\n");
  fs::create_symlink(path("target.txt"), path("link.txt"));
  ASSERT_TRUE(
      succeeded(run({"get", server->first_line(), "a.txt", path("link.txt").string(), "-f", "--store", store("c")})));
  EXPECT_FALSE(fs::is_symlink(path("link.txt")));
  EXPECT_EQ(read_file(path("link.txt")), "alpha\n");
  EXPECT_EQ(read_file(path("target.txt")), "target\n");
}

TEST_F(CliTest, GetWithForceKeepsTheOldFileWhenTheTransferFails) {
  auto server = serve(make_sample_tree(), store("server"));
  write_file(path("out.txt"), "precious\n");
  RunResult r =
      run({"get", server->first_line(), "missing.txt", path("out.txt").string(), "--force", "--store", store("c")});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_EQ(read_file(path("out.txt")), "precious\n");
  EXPECT_FALSE(fs::exists(path("out.txt.part")));
}

// The server dies while the file is coming in: the old file is intact and
// the partial download is removed.
TEST_F(CliTest, GetWithForceKeepsTheOldFileWhenTheVatDiesMidway) {
  std::string data = make_sample_tree();
  {  // 128 MiB, written a MiB at a time: long enough to be caught midway
    std::ofstream big(fs::path(data) / "big.bin", std::ios::binary);
    const std::string mib(1u << 20, 'x');
    for (int i = 0; i < 128; ++i) big << mib;
    ASSERT_TRUE(big.good());
  }
  auto server = serve(data, store("server"));
  write_file(path("out.bin"), "precious\n");
  std::string root = server->first_line();
  auto get = std::async(std::launch::async, [&] {
    return run({"get", root, "big.bin", path("out.bin").string(), "--force", "--store", store("c")});
  });
  // Wait until some of the file has arrived, then kill the server.
  const fs::path part = path("out.bin.part");
  auto end = Clock::now() + kCommandDeadline;
  std::error_code ec;
  while (Clock::now() < end && get.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready &&
         !(fs::exists(part, ec) && fs::file_size(part, ec) > 0))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling, bounded by the deadline
  server->kill_now();
  RunResult r = get.get();
  if (r.code == 0) GTEST_SKIP() << "the whole file arrived before the server was killed; nothing to judge";
  EXPECT_TRUE(r.code == kUnreachable || r.code == 1) << r.describe();
  EXPECT_EQ(read_file(path("out.bin")), "precious\n");
  EXPECT_FALSE(fs::exists(part));
}

TEST_F(CliTest, NoProgressLineWhenStderrIsNotATerminal) {
  std::string data = make_sample_tree();
  auto server = serve(data, store("server"));
  write_file(path("big.bin"), std::string(3u << 20, 'y'));  // several chunks
  RunResult put = run({"put", server->first_line(), "big.bin", path("big.bin").string(), "--store", store("c")});
  ASSERT_TRUE(succeeded(put));
  EXPECT_EQ(put.err, "");
  RunResult get = run({"get", server->first_line(), "big.bin", path("back.bin").string(), "--store", store("c")});
  ASSERT_TRUE(succeeded(get));
  EXPECT_EQ(get.err, "");
  EXPECT_EQ(fs::file_size(path("back.bin")), 3u << 20);
}

}  // namespace
}  // namespace vatic::test
