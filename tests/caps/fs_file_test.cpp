#include "caps/fs/file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "caps/fs/file_io.h"
#include "tests/caps/fs_test_util.h"

namespace vatic::caps::test {
namespace {

class FileTest : public ::testing::TestWithParam<FileIoBackend> {
 protected:
  FileTest() : w(GetParam()) {}
  void SetUp() override {
    if (w.lacks(GetParam())) GTEST_SKIP() << "no io_uring here: " << w.io.fallback_reason();
    w.tree.write("notes", "0123456789");
  }
  Ref<File> open(const char* name = "notes", FsOps ops = kAllFsOps, std::optional<std::uint64_t> max = std::nullopt) {
    return w.get(w.open(ops, max).send<&Directory::open>(name));
  }

  FsWorld w;
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

TEST_P(FileTest, UsesTheBackendAskedFor) { EXPECT_EQ(w.io.backend(), GetParam()); }

TEST_P(FileTest, StatReportsTypeAndSize) {
  Stat s = w.get(open().send<&File::stat>());
  EXPECT_EQ(s.type, "file");
  EXPECT_EQ(s.size, 10u);
}

TEST_P(FileTest, ReadsARangeAndNothingAtEndOfFile) {
  auto f = open();
  EXPECT_EQ(text_of(w.get(f.send<&File::read>(2, 3))), "234");
  EXPECT_EQ(text_of(w.get(f.send<&File::read>(8, 100))), "89");
  EXPECT_TRUE(w.get(f.send<&File::read>(10, 5)).empty());
  EXPECT_TRUE(w.get(f.send<&File::read>(1000, 5)).empty());
}

TEST_P(FileTest, WritesOverwriteAndExtend) {
  auto f = open();
  w.get(f.send<&File::write>(8, bytes_of("XYZ")));
  EXPECT_EQ(w.tree.read("notes"), "01234567XYZ");
  w.get(f.send<&File::write>(0, Bytes{}));
  EXPECT_EQ(w.get(f.send<&File::stat>()).size, 11u);
}

TEST_P(FileTest, TruncateShrinksAndGrows) {
  auto f = open();
  w.get(f.send<&File::truncate>(4));
  EXPECT_EQ(w.tree.read("notes"), "0123");
  w.get(f.send<&File::truncate>(6));
  EXPECT_EQ(w.tree.read("notes"), std::string("0123\0\0", 6));
}

TEST_P(FileTest, ManyReadsInFlightEachGetTheirOwnRange) {
  std::string data = pattern(64 * 1024);
  w.tree.write("p", data);
  auto f = open("p");
  std::vector<Promise<Bytes>> ps;
  for (std::size_t i = 0; i < 64; ++i) ps.push_back(f.send<&File::read>(i * 1024, 1024));
  for (std::size_t i = 0; i < 64; ++i) EXPECT_EQ(text_of(w.get(ps[i])), data.substr(i * 1024, 1024)) << i;
}

TEST_P(FileTest, StreamsTheWholeFileInChunksThenSaysDone) {
  std::string data = pattern(kStreamChunk * 4 + 123);
  w.tree.write("big", data);
  SinkLog log;
  Ref<ByteSink> sink = w.vat.make<CollectSink>(&log);
  EXPECT_EQ(w.get(open("big").send<&File::stream_to>(sink, 0, -1)), static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(text_of(log.data), data);
  EXPECT_EQ(log.writes, 5);
  EXPECT_EQ(log.dones, 1);
}

TEST_P(FileTest, StreamsARangeAndStopsAtEndOfFile) {
  SinkLog log;
  Ref<ByteSink> sink = w.vat.make<CollectSink>(&log);
  auto f = open();
  EXPECT_EQ(w.get(f.send<&File::stream_to>(sink, 3, 4)), 4);
  EXPECT_EQ(text_of(log.data), "3456");
  EXPECT_EQ(w.get(f.send<&File::stream_to>(sink, 8, 100)), 2);
  EXPECT_EQ(w.get(f.send<&File::stream_to>(sink, 50, -1)), 0);
  EXPECT_EQ(text_of(log.data), "345689");
  EXPECT_EQ(log.dones, 3);
  EXPECT_EQ(w.reason(f.send<&File::stream_to>(sink, 0, -2)), "invalid length -2 (-1 means to end of file)");
}

TEST_P(FileTest, StreamKeepsAtMostTheWindowUnacknowledged) {
  std::string data = pattern(kStreamChunk * 10);
  w.tree.write("big", data);
  SinkLog log;
  Ref<ByteSink> sink = w.vat.make<SlowSink>(&log);
  auto done = open("big").send<&File::stream_to>(sink, 0, -1);
  // Acknowledge only when the producer has stalled on a full window.
  while (done.pending()) {
    w.vat.run_until_idle();
    if (log.acks.size() == kStreamWindow || (log.writes == 10 && !log.acks.empty())) {
      log.ack_one();
    } else if (log.acks.size() < kStreamWindow && done.pending()) {
      w.vat.wait(w.vat.sleep(std::chrono::milliseconds(1)));
    }
  }
  EXPECT_EQ(w.get(done), static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(log.max_outstanding, kStreamWindow);
  EXPECT_EQ(text_of(log.data), data);
  EXPECT_EQ(log.dones, 1);
}

TEST_P(FileTest, AStreamIntoAFailingSinkBreaksWithoutDone) {
  SinkLog log;
  Ref<ByteSink> sink = w.vat.make<FailingSink>(&log);
  EXPECT_EQ(w.reason(open().send<&File::stream_to>(sink, 0, -1)), "disk full");
  EXPECT_EQ(log.writes, 1);
  EXPECT_EQ(log.dones, 0);
}

TEST_P(FileTest, MaxBytesBoundsWritesTruncatesReadsAndStreams) {
  auto f = open("notes", kAllFsOps, 16);
  w.get(f.send<&File::write>(10, bytes_of("abcdef")));  // exactly 16
  EXPECT_EQ(w.reason(f.send<&File::write>(16, bytes_of("x"))),
            "refused: a file of 17 bytes exceeds this capability's max_bytes (16)");
  EXPECT_EQ(w.reason(f.send<&File::truncate>(17)),
            "refused: a file of 17 bytes exceeds this capability's max_bytes (16)");
  w.get(f.send<&File::truncate>(3));
  EXPECT_EQ(w.tree.read("notes"), "012");

  w.tree.write("big", std::string(100, 'b'));
  auto big = open("big", kAllFsOps, 16);
  EXPECT_EQ(w.get(big.send<&File::read>(0, 16)).size(), 16u);
  EXPECT_EQ(w.get(big.send<&File::read>(90, 100)).size(), 10u);
  EXPECT_EQ(w.reason(big.send<&File::read>(0, 17)),
            "refused: reading 17 bytes exceeds this capability's max_bytes (16)");
  // Writing inside a file already past the limit does not make it larger.
  w.get(big.send<&File::write>(50, bytes_of("zz")));
  SinkLog log;
  Ref<ByteSink> sink = w.vat.make<CollectSink>(&log);
  EXPECT_EQ(w.reason(big.send<&File::stream_to>(sink, 0, -1)),
            "refused: reading 100 bytes exceeds this capability's max_bytes (16)");
  EXPECT_EQ(log.writes, 0);
  EXPECT_EQ(w.get(big.send<&File::stream_to>(sink, 84, -1)), 16);
}

TEST_P(FileTest, ReleasingAFileWithReadsInFlightIsSafe) {
  w.tree.write("big", pattern(kReadChunkLimit));
  std::vector<Promise<Bytes>> ps;
  {
    auto f = open("big");
    for (int i = 0; i < 8; ++i) ps.push_back(f.send<&File::read>(0, kReadChunkLimit));
  }
  for (auto& p : ps) EXPECT_EQ(w.get(p).size(), kReadChunkLimit);
}

TEST_P(FileTest, RefusesOffsetsPastTheLargestFileOffset) {
  auto f = open();
  EXPECT_TRUE(w.reason(f.send<&File::write>(UINT64_MAX - 1, bytes_of("xy"))).starts_with("invalid range: "));
}

TEST(FileIo, AForcedThreadPoolIsUsedAndReportsWhy) {
  Vat vat;
  FileIo io(vat, FileIoOptions{.backend = FileIoBackend::thread_pool, .threads = 1});
  EXPECT_EQ(io.backend(), FileIoBackend::thread_pool);
  EXPECT_EQ(io.fallback_reason(), "thread pool forced");
}

TEST(FileIo, DestroyingItLeavesNoReadPending) {
  TempTree tree;
  tree.write("f", "data");
  Vat vat;
  Promise<Bytes> p;
  std::unique_ptr<FileHandle> h;
  {
    FileIo io(vat, FileIoOptions{.backend = FileIoBackend::thread_pool});
    vat.post([&] {
      h = io.adopt(UniqueFd(::open(tree.path("f").c_str(), O_RDONLY | O_CLOEXEC)));
      p = io.read(*h, 0, 4, "read f");
    });
    vat.run_until_idle();
    ASSERT_TRUE(p.valid());
  }
  vat.run_until_idle();
  ASSERT_FALSE(p.pending());
  if (p.is_broken()) {
    EXPECT_EQ(p.error().kind, ErrorKind::disconnected);
  } else {
    EXPECT_EQ(text_of(p.value()), "data");  // the pool finished before it stopped
  }
}

// A holder cannot make the server pin unbounded memory or descriptors: past
// the budget, reads and writes break with `overloaded` at once, and opens too.
TEST(FileIo, ReadsAndWritesPastTheBudgetAreRefusedAsOverloaded) {
  TempTree tree;
  tree.write("f", std::string(1 << 20, 'x'));
  Vat vat;
  FileIo io(vat, FileIoOptions{.max_bytes_in_flight = 1 << 20});
  std::unique_ptr<FileHandle> h;
  std::vector<Promise<Bytes>> reads;
  Promise<void> write;
  vat.post([&] {
    h = io.adopt(UniqueFd(::open(tree.path("f").c_str(), O_RDWR | O_CLOEXEC)));
    reads.push_back(io.read(*h, 0, 600 << 10, "read f"));
    reads.push_back(io.read(*h, 0, 600 << 10, "read f"));  // 1.2 MiB in flight: over
    write = io.write(*h, 0, Bytes(600 << 10, 1), "write f");
  });
  vat.run_until_idle();
  ASSERT_EQ(reads.size(), 2u);
  ASSERT_TRUE(reads[1].is_broken());
  EXPECT_EQ(reads[1].error().kind, ErrorKind::overloaded) << reads[1].error().reason;
  ASSERT_TRUE(write.is_broken());
  EXPECT_EQ(write.error().kind, ErrorKind::overloaded);
  EXPECT_EQ(vat.wait(reads[0]).size(), std::size_t{600} << 10);
  // Once the first read is done, the budget is free again.
  Promise<Bytes> again;
  vat.post([&] { again = io.read(*h, 0, 600 << 10, "read f"); });
  vat.run_until_idle();
  ASSERT_TRUE(again.valid());
  EXPECT_EQ(vat.wait(again).size(), std::size_t{600} << 10);
  vat.post([&] { h.reset(); });
  vat.run_until_idle();
}

TEST(FileIo, OpensPastTheLimitAreRefusedAsOverloaded) {
  TempTree tree;
  tree.write("f", "data");
  Vat vat;
  FileIo io(vat, FileIoOptions{.max_open_files = 3});
  auto dir = open_directory(vat, io, tree.root(), kAllFsOps, std::nullopt);  // the directory is one
  Ref<File> a = vat.wait(dir.send<&Directory::open>("f"));
  Ref<File> b = vat.wait(dir.send<&Directory::open>("f"));
  try {
    vat.wait(dir.send<&Directory::open>("f"));
    FAIL() << "a third open was allowed";
  } catch (const VatError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::overloaded) << e.what();
  }
  a = Ref<File>();  // released: its slot is free again
  vat.run_until_idle();
  EXPECT_NO_THROW(vat.wait(dir.send<&Directory::open>("f")));
}

// Each directory capability holds a descriptor: deriving them without end
// is refused like opening files without end.
TEST(FileIo, DirectoriesCountAgainstTheOpenFileLimit) {
  TempTree tree;
  Vat vat;
  FileIo io(vat, FileIoOptions{.max_open_files = 3});
  auto root = open_directory(vat, io, tree.root(), kAllFsOps, std::nullopt);  // 1
  std::vector<Ref<Directory>> held;
  held.push_back(vat.wait(root.send<&Directory::sub>("")));      // 2
  held.push_back(vat.wait(root.send<&Directory::read_only>()));  // 3
  try {
    vat.wait(root.send<&Directory::restrict>(std::string("read"), std::optional<std::uint64_t>()));
    FAIL() << "a fourth descriptor was allowed";
  } catch (const VatError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::overloaded) << e.what();
  }
  held.clear();
  vat.run_until_idle();
  EXPECT_NO_THROW(vat.wait(root.send<&Directory::sub>("")));
}

INSTANTIATE_TEST_SUITE_P(Both, FileTest, ::testing::Values(FileIoBackend::io_uring, FileIoBackend::thread_pool),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace vatic::caps::test
