#include "caps/fs/directory.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "tests/caps/fs_test_util.h"

namespace vatic::caps::test {
namespace {

using Param = std::tuple<PathResolver, FileIoBackend>;

class DirectoryTest : public ::testing::TestWithParam<Param> {
 protected:
  DirectoryTest() : w(std::get<1>(GetParam())) {}
  void SetUp() override {
    if (w.lacks(std::get<1>(GetParam()))) GTEST_SKIP() << "no io_uring here: " << w.io.fallback_reason();
    w.tree.write("a.txt", "alpha");
    w.tree.mkdir("sub");
    w.tree.write("sub/b.txt", "bravo!");
    w.tree.mkdir("sub/deep");
    if (resolver() == PathResolver::openat2) {
      UniqueFd fd(::open(w.tree.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!openat2_supported(fd.get())) GTEST_SKIP() << "no openat2 here";
    }
  }
  PathResolver resolver() const { return std::get<0>(GetParam()); }
  Ref<Directory> open(FsOps ops = kAllFsOps, std::optional<std::uint64_t> max = std::nullopt) {
    return w.open(ops, max, resolver());
  }

  FsWorld w;
};

std::vector<std::string> names(const std::vector<DirEntry>& es) {
  std::vector<std::string> out;
  for (const auto& e : es) out.push_back(e.name + ":" + e.type);
  return out;
}

TEST_P(DirectoryTest, ListsEntriesSortedWithTypesAndSizes) {
  auto d = open();
  auto es = w.get(d.send<&Directory::list>(""));
  EXPECT_EQ(names(es), (std::vector<std::string>{"a.txt:file", "sub:dir"}));
  EXPECT_EQ(es[0].size, 5u);
  EXPECT_GT(es[0].mtime, 0);
  EXPECT_EQ(names(w.get(d.send<&Directory::list>("sub/"))), (std::vector<std::string>{"b.txt:file", "deep:dir"}));
}

TEST_P(DirectoryTest, StatsFilesAndDirectories) {
  auto d = open();
  Stat s = w.get(d.send<&Directory::stat>("sub/b.txt"));
  EXPECT_EQ(s.type, "file");
  EXPECT_EQ(s.size, 6u);
  EXPECT_EQ(w.get(d.send<&Directory::stat>(".")).type, "dir");
  EXPECT_EQ(w.reason(d.send<&Directory::stat>("nope")), "not found: nope");
}

TEST_P(DirectoryTest, ReadsARangeOfAFile) {
  auto d = open();
  EXPECT_EQ(text_of(w.get(d.send<&Directory::read>("sub/b.txt", 1, 3))), "rav");
  EXPECT_EQ(text_of(w.get(d.send<&Directory::read>("a.txt", 0, 100))), "alpha");
  EXPECT_TRUE(w.get(d.send<&Directory::read>("a.txt", 99, 10)).empty());
  EXPECT_EQ(w.reason(d.send<&Directory::read>("sub", 0, 1)), "is a directory: sub");
}

TEST_P(DirectoryTest, ReadIsCappedAtTheChunkLimit) {
  w.tree.write("big", std::string(kReadChunkLimit + 100, 'x'));
  auto d = open();
  EXPECT_EQ(w.get(d.send<&Directory::read>("big", 0, kReadChunkLimit * 2)).size(), kReadChunkLimit);
  EXPECT_EQ(w.get(d.send<&Directory::read>("big", kReadChunkLimit, kReadChunkLimit)).size(), 100u);
}

TEST_P(DirectoryTest, CreatesWritesAndReadsBackAFile) {
  auto d = open();
  auto f = w.get(d.send<&Directory::create>("sub/new.txt"));
  w.get(f.send<&File::write>(0, bytes_of("hello world")));
  EXPECT_EQ(w.tree.read("sub/new.txt"), "hello world");
  EXPECT_EQ(w.reason(d.send<&Directory::create>("sub/new.txt")), "already exists: sub/new.txt");
  EXPECT_EQ(w.reason(d.send<&Directory::create>("sub/")), "invalid path: \"sub/\" does not name a file");
}

TEST_P(DirectoryTest, OpensAnExistingFileForReadingAndWriting) {
  auto d = open();
  auto f = w.get(d.send<&Directory::open>("a.txt"));
  w.get(f.send<&File::write>(5, bytes_of("bet")));
  EXPECT_EQ(text_of(w.get(f.send<&File::read>(0, 100))), "alphabet");
  EXPECT_EQ(w.reason(d.send<&Directory::open>("sub")), "is a directory: sub");
  EXPECT_EQ(w.reason(d.send<&Directory::open>("missing")), "not found: missing");
}

TEST_P(DirectoryTest, MakesAndRemovesDirectories) {
  auto d = open();
  w.get(d.send<&Directory::mkdir>("sub/made"));
  EXPECT_EQ(w.get(d.send<&Directory::stat>("sub/made")).type, "dir");
  EXPECT_EQ(w.reason(d.send<&Directory::mkdir>("sub/made")), "already exists: sub/made");
  EXPECT_EQ(w.reason(d.send<&Directory::remove>("sub")), "directory not empty: sub");
  w.get(d.send<&Directory::remove>("sub/made/"));
  w.get(d.send<&Directory::remove>("a.txt"));
  EXPECT_FALSE(w.tree.exists("sub/made"));
  EXPECT_FALSE(w.tree.exists("a.txt"));
  EXPECT_EQ(w.reason(d.send<&Directory::remove>("sub/b.txt/")), "not a directory: sub/b.txt/");
  EXPECT_EQ(w.reason(d.send<&Directory::remove>("")), "invalid path: \".\" names this directory itself");
}

TEST_P(DirectoryTest, RenamesWithinTheTreeWithoutReplacing) {
  auto d = open();
  w.get(d.send<&Directory::rename>("a.txt", "sub/deep/a2.txt"));
  EXPECT_EQ(w.tree.read("sub/deep/a2.txt"), "alpha");
  EXPECT_EQ(w.reason(d.send<&Directory::rename>("sub/deep/a2.txt", "sub/b.txt")), "already exists: sub/b.txt");
  EXPECT_EQ(w.tree.read("sub/b.txt"), "bravo!");
  EXPECT_EQ(w.reason(d.send<&Directory::rename>("gone", "x")), "not found: gone");
}

TEST_P(DirectoryTest, SubDirectorySeesOnlyItsSubtree) {
  auto d = open();
  auto s = w.get(d.send<&Directory::sub>("sub"));
  EXPECT_EQ(text_of(w.get(s.send<&Directory::read>("b.txt", 0, 10))), "bravo!");
  EXPECT_EQ(w.reason(s.send<&Directory::stat>("a.txt")), "not found: a.txt");
  EXPECT_EQ(w.reason(s.send<&Directory::stat>("../a.txt")), "refused: path \"../a.txt\" leaves the directory");
  EXPECT_EQ(w.reason(d.send<&Directory::sub>("a.txt")), "not a directory: a.txt");
}

TEST_P(DirectoryTest, OpsAreEnforcedOnEveryCall) {
  auto d = open(static_cast<FsOps>(FsOp::list));
  EXPECT_EQ(w.get(d.send<&Directory::ops>()), "list");
  EXPECT_EQ(names(w.get(d.send<&Directory::list>(""))).size(), 2u);
  EXPECT_EQ(w.get(d.send<&Directory::stat>("sub")).type, "dir");
  const std::string no_read = "refused: read is not allowed by this capability";
  EXPECT_EQ(w.reason(d.send<&Directory::stat>("a.txt")), no_read);
  EXPECT_EQ(w.reason(d.send<&Directory::read>("a.txt", 0, 1)), no_read);
  EXPECT_EQ(w.reason(d.send<&Directory::open>("a.txt")), no_read);
  EXPECT_EQ(w.reason(d.send<&Directory::create>("n")), "refused: create is not allowed by this capability");
  EXPECT_EQ(w.reason(d.send<&Directory::mkdir>("n")), "refused: create is not allowed by this capability");
  EXPECT_EQ(w.reason(d.send<&Directory::remove>("a.txt")), "refused: delete is not allowed by this capability");
  EXPECT_EQ(w.reason(d.send<&Directory::rename>("a.txt", "b")), "refused: delete is not allowed by this capability");
  EXPECT_TRUE(w.tree.exists("a.txt"));
}

TEST_P(DirectoryTest, ReadOnlyViewRefusesChangesAndOpensFilesReadOnly) {
  auto d = w.get(open().send<&Directory::read_only>());
  EXPECT_EQ(w.get(d.send<&Directory::ops>()), "read,list");
  auto f = w.get(d.send<&Directory::open>("a.txt"));
  EXPECT_EQ(w.reason(f.send<&File::write>(0, bytes_of("x"))), "refused: write is not allowed by this capability");
  EXPECT_EQ(w.reason(f.send<&File::truncate>(0)), "refused: write is not allowed by this capability");
  EXPECT_EQ(w.tree.read("a.txt"), "alpha");
}

TEST_P(DirectoryTest, RestrictParsesOpsAndRejectsUnknownNames) {
  auto d = open();
  auto r = w.get(d.send<&Directory::restrict>("read,create", std::optional<std::uint64_t>(10)));
  EXPECT_EQ(w.get(r.send<&Directory::ops>()), "read,create");
  EXPECT_TRUE(w.reason(d.send<&Directory::restrict>("read,fly", std::nullopt)).starts_with("invalid ops: "));
}

TEST_P(DirectoryTest, MethodsAreCallableByName) {
  auto d = open();
  Value v = w.get(d.send("read", "a.txt", 0, 3));
  EXPECT_EQ(text_of(v.as_bytes()), "alp");
  Value l = w.get(d.send("list", "sub"));
  ASSERT_EQ(l.as_list().size(), 2u);
  EXPECT_EQ(from_value<DirEntry>(l.as_list()[0]).name, "b.txt");
  Value s = w.get(d.send("restrict", "read", Value()));
  auto narrowed = from_value<Ref<Directory>>(s);
  EXPECT_EQ(w.get(narrowed.send<&Directory::ops>()), "read");
}

TEST_P(DirectoryTest, ReleasingTheCapabilityClosesItsDescriptor) {
  int before = count_open_fds();
  {
    auto d = open();
    auto s = w.get(d.send<&Directory::sub>("sub"));
    auto f = w.get(s.send<&Directory::open>("b.txt"));
    EXPECT_GE(count_open_fds(), before + 3);
  }
  w.vat.run_until_idle();
  EXPECT_EQ(count_open_fds(), before);
}

TEST(OpenDirectory, RefusesAHostPathThatIsNotADirectory) {
  FsWorld w;
  w.tree.write("f", "x");
  try {
    open_directory(w.vat, w.io, w.tree.path("f"), kAllFsOps, std::nullopt);
    ADD_FAILURE() << "served a file as a directory";
  } catch (const VatError& e) {
    EXPECT_EQ(e.error().reason, "cannot serve " + w.tree.path("f") + ": not a directory");
  }
  EXPECT_THROW(open_directory(w.vat, w.io, w.tree.path("missing"), kAllFsOps, std::nullopt), VatError);
}

INSTANTIATE_TEST_SUITE_P(All, DirectoryTest,
                         ::testing::Combine(::testing::Values(PathResolver::openat2, PathResolver::walk),
                                            ::testing::Values(FileIoBackend::io_uring, FileIoBackend::thread_pool)),
                         [](const auto& info) {
                           return std::string(to_string(std::get<0>(info.param))) + "_" +
                                  std::string(to_string(std::get<1>(info.param)));
                         });

}  // namespace
}  // namespace vatic::caps::test
