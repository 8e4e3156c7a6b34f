#include "caps/fs/resolve.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "caps/fs/path.h"
#include "tests/caps/fs_test_util.h"

namespace vatic::caps::test {
namespace {

TEST(FsPath, EmptyAndDotNameTheDirectoryItself) {
  for (const char* text : {"", ".", "./", ".//."}) {
    auto p = parse_path(text);
    ASSERT_TRUE(p.ok()) << text;
    EXPECT_TRUE(p.value().is_self()) << text;
  }
}

TEST(FsPath, DropsEmptyAndDotComponentsAndRemembersATrailingSlash) {
  auto p = parse_path("a//./b/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().parts, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p.value().trailing_slash);
  EXPECT_EQ(p.value().joined(), "a/b");
  EXPECT_EQ(p.value().text, "a//./b/");
}

TEST(FsPath, RefusesEscapesAbsolutePathsAndNul) {
  EXPECT_EQ(parse_path("../x").error(), "refused: path \"../x\" leaves the directory");
  EXPECT_EQ(parse_path("a/../b").error(), "refused: path \"a/../b\" leaves the directory");
  EXPECT_EQ(parse_path("..").error(), "refused: path \"..\" leaves the directory");
  EXPECT_EQ(parse_path("/etc/passwd").error(), "refused: path \"/etc/passwd\" is absolute");
  EXPECT_EQ(parse_path(std::string("a\0b", 3)).error(), "refused: path \"a\\x00b\" contains a NUL byte");
}

TEST(FsPath, RefusesNamesAndPathsBeyondTheKernelLimits) {
  EXPECT_TRUE(parse_path(std::string(255, 'n')).ok());
  EXPECT_EQ(parse_path(std::string(256, 'n')).error(), "invalid path: a name of 256 bytes exceeds NAME_MAX (255)");
  std::string long_path;
  while (long_path.size() < 4096) long_path += "abcdefg/";
  EXPECT_EQ(parse_path(long_path).error(), "invalid path: 4096 bytes exceeds PATH_MAX (4095)");
}

// One case table, run against both resolvers: they must agree on every line.
struct Case {
  const char* path;
  const char* type;  // "file", "dir", "link", "other", or null when it fails
  const char* reason;
};

const Case kCases[] = {
    {"", "dir", nullptr},
    {"f", "file", nullptr},
    {"d", "dir", nullptr},
    {"d/", "dir", nullptr},
    {"d/g", "file", nullptr},
    {"./d//e/", "dir", nullptr},
    {"fifo", "other", nullptr},
    {"in", "link", nullptr},
    {"loop", "link", nullptr},
    {"f/", nullptr, "not a directory: f/"},
    {"f/x", nullptr, "not a directory: f/x"},
    {"missing", nullptr, "not found: missing"},
    {"d/missing/x", nullptr, "not found: d/missing/x"},
    {"in/", nullptr, "refused: path \"in/\" goes through a symbolic link"},
    {"d/to_e/x", nullptr, "refused: path \"d/to_e/x\" goes through a symbolic link"},
    {"abs/passwd", nullptr, "refused: path \"abs/passwd\" goes through a symbolic link"},
    {"up/x", nullptr, "refused: path \"up/x\" goes through a symbolic link"},
    {"loop/x", nullptr, "refused: path \"loop/x\" goes through a symbolic link"},
    {"dangling/x", nullptr, "refused: path \"dangling/x\" goes through a symbolic link"},
};

class Resolve : public ::testing::TestWithParam<PathResolver> {
 protected:
  void SetUp() override {
    tree_.write("f", "hello");
    tree_.mkdir("d");
    tree_.mkdir("d/e");
    tree_.write("d/g", "g");
    tree_.mkfifo("fifo");
    tree_.symlink("f", "in");
    tree_.symlink("e", "d/to_e");
    tree_.symlink("/etc", "abs");
    tree_.symlink("..", "up");
    tree_.symlink("loop", "loop");
    tree_.symlink("nowhere", "dangling");
    root_ = UniqueFd(::open(tree_.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_);
    if (GetParam() == PathResolver::openat2 && !openat2_supported(root_.get())) GTEST_SKIP() << "no openat2 here";
  }

  Result<Entry> resolve(const char* text) {
    auto p = parse_path(text);
    EXPECT_TRUE(p.ok()) << text;
    return resolve_entry(root_.get(), p.value(), GetParam());
  }

  TempTree tree_;
  UniqueFd root_;
};

TEST_P(Resolve, EveryCaseOfTheTableGivesTheSameOutcome) {
  for (const Case& c : kCases) {
    auto r = resolve(c.path);
    if (!c.type) {
      EXPECT_FALSE(r.ok()) << c.path;
      EXPECT_EQ(r.error(), c.reason) << c.path;
      continue;
    }
    ASSERT_TRUE(r.ok()) << c.path << ": " << r.error();
    auto mode = r.value().st.st_mode;
    std::string type = S_ISLNK(mode) ? "link" : std::string(type_name(mode));
    EXPECT_EQ(type, c.type) << c.path;
  }
}

TEST_P(Resolve, ParentOfANameIsTheDirectoryHoldingIt) {
  auto p = parse_path("d/e/new");
  ASSERT_TRUE(p.ok());
  auto parent = resolve_parent(root_.get(), p.value(), GetParam());
  ASSERT_TRUE(parent.ok()) << parent.error();
  EXPECT_EQ(parent.value().name, "new");
  struct stat a {
  }, b{};
  ASSERT_EQ(::fstat(parent.value().dir.get(), &a), 0);
  ASSERT_EQ(::stat(tree_.path("d/e").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_P(Resolve, ParentThroughASymlinkIsRefused) {
  auto p = parse_path("d/to_e/new");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(resolve_parent(root_.get(), p.value(), GetParam()).error(),
            "refused: path \"d/to_e/new\" goes through a symbolic link");
  auto self = parse_path(".");
  ASSERT_TRUE(self.ok());
  EXPECT_FALSE(resolve_parent(root_.get(), self.value(), GetParam()).ok());
}

TEST_P(Resolve, DirectoryRequiredRefusesFilesAndSymlinks) {
  auto f = parse_path("f");
  auto in = parse_path("in");
  ASSERT_TRUE(f.ok() && in.ok());
  EXPECT_EQ(resolve_directory(root_.get(), f.value(), GetParam()).error(), "not a directory: f");
  EXPECT_EQ(resolve_directory(root_.get(), in.value(), GetParam()).error(),
            "refused: path \"in\" goes through a symbolic link");
}

TEST_P(Resolve, EveryDescriptorIsCloseOnExec) {
  auto r = resolve("d/g");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(::fcntl(r.value().fd.get(), F_GETFD) & FD_CLOEXEC, 0);
}

INSTANTIATE_TEST_SUITE_P(Both, Resolve, ::testing::Values(PathResolver::openat2, PathResolver::walk),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace vatic::caps::test
