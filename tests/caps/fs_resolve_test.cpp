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
  EXPECT_EQ(parse_path("a/../../x").error(), "refused: path \"a/../../x\" leaves the directory");
  EXPECT_EQ(parse_path("..").error(), "refused: path \"..\" leaves the directory");
  EXPECT_EQ(parse_path("./a/./../..").error(), "refused: path \"./a/./../..\" leaves the directory");
  EXPECT_EQ(parse_path("/etc/passwd").error(), "refused: path \"/etc/passwd\" is absolute");
  EXPECT_EQ(parse_path(std::string("a\0b", 3)).error(), "refused: path \"a\\x00b\" contains a NUL byte");
}

// fs.md, Parse 4: ".." cancels the name written before it, before anything is
// looked up; the text stays as sent, for messages.
TEST(FsPath, DotDotThatStaysInsideIsNormalisedLexically) {
  struct {
    const char* text;
    std::vector<std::string> parts;
    bool must_be_dir;
  } const cases[] = {
      {"a/../b", {"b"}, false},
      {"a/..", {}, false},
      {"a/../", {}, false},
      {"a/b/..", {"a"}, true},
      {"a/b/../", {"a"}, true},
      {"a/b/../c/./d/..", {"a", "c"}, true},
      {"a/./../b/c", {"b", "c"}, false},
      {"missing/../b", {"b"}, false},
      {"a/b/../../c", {"c"}, false},
  };
  for (const auto& c : cases) {
    auto p = parse_path(c.text);
    ASSERT_TRUE(p.ok()) << c.text << ": " << p.error();
    EXPECT_EQ(p.value().parts, c.parts) << c.text;
    EXPECT_EQ(p.value().trailing_slash, c.must_be_dir) << c.text;
    EXPECT_EQ(p.value().text, c.text);
  }
  EXPECT_TRUE(parse_path("a/..").value().is_self());
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
  const char* type;  // "file", "dir", "other", or null when it fails
  std::string reason;
};

std::string leaves(const std::string& p) { return "refused: path \"" + p + "\" leaves the directory"; }
std::string too_many(const std::string& p) { return "refused: path \"" + p + "\": too many levels of symbolic links"; }

const Case kCases[] = {
    {"", "dir", {}},
    {"f", "file", {}},
    {"d", "dir", {}},
    {"d/", "dir", {}},
    {"d/g", "file", {}},
    {"./d//e/", "dir", {}},
    {"fifo", "other", {}},
    {"f/", nullptr, "not a directory: f/"},
    {"f/x", nullptr, "not a directory: f/x"},
    {"missing", nullptr, "not found: missing"},
    {"d/missing/x", nullptr, "not found: d/missing/x"},
    // Lexical "..": the holder's own names cancel, then the rest resolves.
    {"d/..", "dir", {}},
    {"d/../f", "file", {}},
    {"d/e/../g", "file", {}},
    {"missing/../f", "file", {}},
    {"d/g/..", "dir", {}},  // is "d"
    {"f/x/..", nullptr, "not a directory: f/x/.."},
    // "deep/.." is the root, not deep's target's parent (d): POSIX would find d/g.
    {"deep/../f", "file", {}},
    {"deep/../g", nullptr, "not found: deep/../g"},
    // Links that stay inside: followed, in the middle and at the end.
    {"in", "file", {}},
    {"in/", nullptr, "not a directory: in/"},
    {"chain", "file", {}},  // a link to a link
    {"d/to_e", "dir", {}},
    {"d/to_e/", "dir", {}},
    {"d/to_e/x", nullptr, "not found: d/to_e/x"},
    {"dlink/g", "file", {}},
    {"dlink/to_e/", "dir", {}},
    {"d/up_f", "file", {}},  // ../f from d
    {"d/to_root", "dir", {}},
    {"d/to_root/f", "file", {}},
    {"d/to_root/d/to_root/in", "file", {}},
    {"deep/back/g", "file", {}},  // d/e/back -> ../../d
    {"dangling", nullptr, "not found: dangling"},
    {"dangling/x", nullptr, "not found: dangling/x"},
    {"slash_f", nullptr, "not a directory: slash_f"},  // -> f/
    {"slash_d", "dir", {}},                            // -> d/
    {"c40", "file", {}},                               // 40 links: the most allowed
    // Links that leave, or never end.
    {"up", nullptr, leaves("up")},
    {"up/x", nullptr, leaves("up/x")},
    {"out_rel/passwd", nullptr, leaves("out_rel/passwd")},
    {"d/to_e/out", nullptr, leaves("d/to_e/out")},  // ../../.. from d/e
    {"abs", nullptr, leaves("abs")},
    {"abs/passwd", nullptr, leaves("abs/passwd")},
    {"abs_in", nullptr, leaves("abs_in")},  // absolute, though it names a file inside
    {"loop", nullptr, too_many("loop")},
    {"loop/x", nullptr, too_many("loop/x")},
    {"ping", nullptr, too_many("ping")},
    {"c41", nullptr, too_many("c41")},
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
    tree_.symlink("in", "chain");
    tree_.symlink("e", "d/to_e");
    tree_.symlink("d", "dlink");
    tree_.symlink("d/e", "deep");
    tree_.symlink("../f", "d/up_f");
    tree_.symlink("..", "d/to_root");
    tree_.symlink("../../d", "d/e/back");
    tree_.symlink("../../../x", "d/e/out");
    tree_.symlink("f/", "slash_f");
    tree_.symlink("d/", "slash_d");
    tree_.symlink("/etc", "abs");
    tree_.symlink(tree_.path("f"), "abs_in");
    tree_.symlink("..", "up");
    tree_.symlink("../../etc", "out_rel");
    tree_.symlink("loop", "loop");
    tree_.symlink("pong", "ping");
    tree_.symlink("ping", "pong");
    tree_.symlink("nowhere", "dangling");
    // c1 -> f, c2 -> c1, ...: c<n> goes through n links.
    tree_.symlink("f", "c1");
    for (int i = 2; i <= kMaxSymlinks + 1; ++i) tree_.symlink("c" + std::to_string(i - 1), "c" + std::to_string(i));
    root_ = UniqueFd(::open(tree_.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_);
    if (GetParam() == PathResolver::openat2 && !openat2_supported(root_.get())) GTEST_SKIP() << "no openat2 here";
  }

  FsPath path(const char* text) {
    auto p = parse_path(text);
    EXPECT_TRUE(p.ok()) << text;
    return p.ok() ? p.value() : FsPath{};
  }
  Result<Entry> resolve(const char* text) { return resolve_entry(root_.get(), path(text), GetParam()); }
  // Whether descriptor `fd` is the host's `rel` in the tree.
  bool same(int fd, std::string_view rel) const {
    struct stat a {
    }, b{};
    return ::fstat(fd, &a) == 0 && ::stat(tree_.path(rel).c_str(), &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
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
    EXPECT_EQ(type_name(r.value().st.st_mode), c.type) << c.path;
  }
}

TEST_P(Resolve, LinksLeadToTheEntriesTheyNameInTheTree) {
  EXPECT_TRUE(same(resolve("chain").value().fd.get(), "f"));
  EXPECT_TRUE(same(resolve("d/to_root/d/to_root/in").value().fd.get(), "f"));
  EXPECT_TRUE(same(resolve("deep/back/to_e").value().fd.get(), "d/e"));
  EXPECT_TRUE(same(resolve("d/to_root").value().fd.get(), "."));
  EXPECT_TRUE(same(resolve("c40").value().fd.get(), "f"));
}

TEST_P(Resolve, ParentOfANameIsTheDirectoryHoldingIt) {
  auto parent = resolve_parent(root_.get(), path("d/e/new"), GetParam());
  ASSERT_TRUE(parent.ok()) << parent.error();
  EXPECT_EQ(parent.value().name, "new");
  EXPECT_TRUE(same(parent.value().dir.get(), "d/e"));
  EXPECT_FALSE(resolve_parent(root_.get(), path("."), GetParam()).ok());
  EXPECT_FALSE(resolve_parent(root_.get(), path("d/.."), GetParam()).ok());
}

// The parent is reached through links; the last name is left as it is.
TEST_P(Resolve, ParentThroughAnInTreeLinkIsItsTargetAndTheLastLinkIsNotFollowed) {
  auto parent = resolve_parent(root_.get(), path("d/to_e/new"), GetParam());
  ASSERT_TRUE(parent.ok()) << parent.error();
  EXPECT_TRUE(same(parent.value().dir.get(), "d/e"));
  auto link = resolve_parent(root_.get(), path("dlink/to_e"), GetParam());
  ASSERT_TRUE(link.ok()) << link.error();
  EXPECT_TRUE(same(link.value().dir.get(), "d"));
  EXPECT_EQ(link.value().name, "to_e");
  EXPECT_EQ(resolve_parent(root_.get(), path("abs/new"), GetParam()).error(), leaves("abs/new"));
  EXPECT_EQ(resolve_parent(root_.get(), path("loop/new"), GetParam()).error(), too_many("loop/new"));
}

TEST_P(Resolve, DirectoryRequiredRefusesFilesAndFollowsLinks) {
  EXPECT_EQ(resolve_directory(root_.get(), path("f"), GetParam()).error(), "not a directory: f");
  EXPECT_EQ(resolve_directory(root_.get(), path("in"), GetParam()).error(), "not a directory: in");
  auto e = resolve_directory(root_.get(), path("d/to_e"), GetParam());
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_TRUE(same(e.value().fd.get(), "d/e"));
}

// resolve_target: where a file to open lives, and whether a last link led there.
TEST_P(Resolve, TargetIsTheEntryALastLinkLeadsTo) {
  struct {
    const char* path;
    const char* dir;
    const char* name;
    bool through_link;
  } const cases[] = {
      {"f", ".", "f", false},           {"d/g", "d", "g", false},   {"in", ".", "f", true},
      {"chain", ".", "f", true},        {"d/up_f", ".", "f", true}, {"dlink/g", "d", "g", false},
      {"d/to_root", ".", ".", true},    {"c40", ".", "f", true},    {"missing", ".", "missing", false},
      {"deep/back/g", "d", "g", false},
  };
  for (const auto& c : cases) {
    auto t = resolve_target(root_.get(), path(c.path), GetParam());
    ASSERT_TRUE(t.ok()) << c.path << ": " << t.error();
    EXPECT_TRUE(same(t.value().dir.get(), c.dir)) << c.path;
    EXPECT_EQ(t.value().name, c.name) << c.path;
    EXPECT_EQ(t.value().through_link, c.through_link) << c.path;
  }
  for (const char* p : {"abs", "abs_in", "up", "d/to_e/out"})
    EXPECT_EQ(resolve_target(root_.get(), path(p), GetParam()).error(), leaves(p));
  for (const char* p : {"loop", "ping", "c41"})
    EXPECT_EQ(resolve_target(root_.get(), path(p), GetParam()).error(), too_many(p));
  EXPECT_EQ(resolve_target(root_.get(), path("slash_f"), GetParam()).error(), "not a directory: slash_f");
}

TEST_P(Resolve, EveryDescriptorIsCloseOnExecAndNoneLeaks) {
  auto r = resolve("d/g");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(::fcntl(r.value().fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  auto t = resolve_target(root_.get(), path("deep/back/to_e/../g"), GetParam());
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_NE(::fcntl(t.value().dir.get(), F_GETFD) & FD_CLOEXEC, 0);
  int before = count_open_fds();
  for (int i = 0; i < 20; ++i)
    for (const Case& c : kCases) (void)resolve(c.path);
  EXPECT_EQ(count_open_fds(), before);
}

INSTANTIATE_TEST_SUITE_P(Both, Resolve, ::testing::Values(PathResolver::openat2, PathResolver::walk),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace vatic::caps::test
