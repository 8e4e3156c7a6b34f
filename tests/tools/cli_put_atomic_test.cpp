// `vatic put` never writes in place: the serving vat writes a temporary file
// beside the target and renames it over the target only when the whole file
// has arrived (caps/fs/upload.h). Killing the uploader, killing the server or
// filling the disk leaves the old file whole and no temporary file behind
// (the server sweeps what a killed server left, as it starts).
//
//   test process --pipe--> vatic put REF big.bin - --store <tmp>/store-c   (SIGKILL mid-upload)
//        |                        | CapTP, unix:<tmp>/s.sock
//        +--fork/exec--> vatic serve <tmp>/data|<tmp>/small/data --store <tmp>/store-server
//        +--mount(2)--> <tmp>/small: a 2 MiB tmpfs (root only), for ENOSPC
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>

#include "tests/tools/cli_fixture.h"
#include "tests/tools/small_fs.h"

namespace vatic::test {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPartPrefix = ".vatic-part-";

// The temporary files of uploads anywhere under `dir`, with their sizes.
std::vector<std::pair<std::string, std::uintmax_t>> partials(const fs::path& dir) {
  std::vector<std::pair<std::string, std::uintmax_t>> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with(kPartPrefix)) out.emplace_back(it->path().string(), fs::file_size(it->path(), ec));
  }
  return out;
}

// Polls `done` until it holds or the deadline passes (a wait, not an assertion).
template <class F>
bool eventually(F done, milliseconds limit = milliseconds(20'000)) {
  auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// `vatic put REF PATH -` reading stdin from a pipe the test writes: it can be
// killed once the server has part of the file.
struct PipedPut {
  pid_t pid = -1;
  int to_stdin = -1;
  PipedPut(const fs::path& home, const std::vector<std::string>& args) {
    detail::ExecArgs exec(args, home);
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid = detail::spawn(exec, in[0], null_fd, null_fd, {});
    ::close(in[0]);
    ::close(null_fd);
    to_stdin = in[1];
  }
  ~PipedPut() {
    if (to_stdin >= 0) ::close(to_stdin);
    if (pid > 0) detail::kill_and_reap(pid);
  }
  void feed(std::size_t n) {
    std::string block(n, 'n');
    for (std::size_t done = 0; done < n;) {
      ssize_t w = ::write(to_stdin, block.data() + done, n - done);
      if (w <= 0) throw std::runtime_error("cannot feed vatic put");
      done += static_cast<std::size_t>(w);
    }
  }
};

TEST_F(CliTest, KillingTheUploaderMidPutLeavesTheOldFileWhole) {
  const std::string data = make_sample_tree();
  const std::string old = std::string(3 << 20, 'o');
  write_file(fs::path(data) / "big.bin", old);
  auto server = serve(data, store("server"), unix_listen("s.sock"));
  {
    PipedPut put(tmp_ / "home", {"put", server->first_line(), "big.bin", "-", "--store", store("c"), "--quiet"});
    // More than the window of four 256 KiB chunks: put waits for an answer
    // (running its vat, which sends) before it blocks reading stdin again.
    put.feed(2 << 20);
    ASSERT_TRUE(eventually([&] {
      auto p = partials(data);
      return !p.empty() && p.front().second > 0;
    })) << "the upload never reached the server";
    detail::kill_and_reap(put.pid);
    put.pid = -1;
  }
  EXPECT_EQ(read_file(fs::path(data) / "big.bin"), old);
  EXPECT_TRUE(eventually([&] { return partials(data).empty(); })) << "the server kept the temporary file";
  EXPECT_TRUE(succeeded(run({"ls", server->first_line(), "--store", store("c")})));
}

TEST_F(CliTest, KillingTheServerMidPutLeavesTheOldFileAndTheRestartSweepsTheRest) {
  const std::string data = make_sample_tree();
  const std::string old = std::string(3 << 20, 'o');
  write_file(fs::path(data) / "public/big.bin", old);
  auto server = serve(data, store("server"), unix_listen("s.sock"));
  {
    PipedPut put(tmp_ / "home", {"put", server->first_line(), "public/big.bin", "-", "--store", store("c"), "-q"});
    put.feed(2 << 20);
    ASSERT_TRUE(eventually([&] {
      auto p = partials(data);
      return !p.empty() && p.front().second > 0;
    }));
    server->kill_now();
  }
  EXPECT_EQ(read_file(fs::path(data) / "public/big.bin"), old);
  ASSERT_FALSE(partials(data).empty()) << "a server killed -9 cannot clean up: the restart must";
  auto again = serve(data, store("server"), unix_listen("s.sock"));
  EXPECT_TRUE(partials(data).empty());
  EXPECT_NE(again->log().find("removed 1 unfinished upload"), std::string::npos) << again->log();
  EXPECT_EQ(read_file(fs::path(data) / "public/big.bin"), old);
}

TEST_F(CliTest, APutThatFillsTheDiskKeepsTheOriginalAndSaysNoSpaceLeft) {
  SmallTmpfs small(path("small"));
  if (!small.mounted()) GTEST_SKIP() << small.why_not();
  const fs::path data = small.path() / "data";
  fs::create_directories(data);
  const std::string old = std::string(512 << 10, 'o');
  write_file(data / "big.bin", old);
  write_file(path("huge.bin"), std::string(3 << 20, 'n'));  // more than the tmpfs has left
  auto server = serve(data.string(), store("server"), unix_listen("s.sock"));
  RunResult r =
      run({"put", server->first_line(), "big.bin", path("huge.bin").string(), "--store", store("c"), "--quiet"});
  EXPECT_TRUE(fails_with(r, 1));
  EXPECT_NE(r.err.find("no space left on device"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(data / "big.bin"), old);
  EXPECT_TRUE(eventually([&] { return partials(data).empty(); }));
  // The space came back: a put that fits works.
  write_file(path("small.bin"), "fits");
  EXPECT_TRUE(succeeded(
      run({"put", server->first_line(), "big.bin", path("small.bin").string(), "--store", store("c"), "--quiet"})));
  EXPECT_EQ(read_file(data / "big.bin"), "fits");
}

TEST_F(CliTest, UploadTemporaryNamesAreNeitherListedNorNameable) {
  const std::string data = make_sample_tree();
  write_file(fs::path(data) / ".vatic-part-0123", "someone's upload");
  // Not swept: it is locked by nobody, so the start removes it. Make another
  // after the start instead.
  auto server = serve(data, store("server"), unix_listen("s.sock"));
  write_file(fs::path(data) / ".vatic-part-4567", "planted");
  RunResult ls = run({"ls", server->first_line(), "--store", store("c")});
  ASSERT_TRUE(succeeded(ls));
  EXPECT_EQ(ls.out.find(".vatic-part-"), std::string::npos) << ls.out;
  EXPECT_TRUE(fails_with(run({"cat", server->first_line(), ".vatic-part-4567", "--store", store("c")}), kRefused));
  EXPECT_TRUE(fails_with(run({"rm", server->first_line(), ".vatic-part-4567", "--store", store("c")}), kRefused));
  EXPECT_FALSE(fs::exists(fs::path(data) / ".vatic-part-0123")) << "the start sweeps leftovers";
}

}  // namespace
}  // namespace vatic::test
