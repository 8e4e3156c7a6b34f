// What each Directory operation does with symbolic links that stay inside the
// tree (spec/fs.md, "The last name"): links on the way are followed by every
// operation; a last link is followed by stat, list, sub, read and open, opened
// for reading only, and acted on as itself by remove, rename, create and mkdir.
// Links that leave the tree are in tests/attacks/fs_attack_test.cpp. Every test
// runs against both resolvers.
#include "caps/fs/directory.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "caps/fs/file.h"
#include "caps/fs/resolve.h"
#include "tests/caps/fs_test_util.h"

namespace vatic::caps::test {
namespace {

class FsLinks : public ::testing::TestWithParam<PathResolver> {
 protected:
  void SetUp() override {
    // a.txt, inner/in.txt; alias -> inner, alias_file -> a.txt,
    // chain -> alias_file, inner/up_file -> ../a.txt.
    w.tree.write("a.txt", "alpha");
    w.tree.mkdir("inner");
    w.tree.write("inner/in.txt", "inside");
    w.tree.symlink("inner", "alias");
    w.tree.symlink("a.txt", "alias_file");
    w.tree.symlink("alias_file", "chain");
    w.tree.symlink("../a.txt", "inner/up_file");
    UniqueFd fd(::open(w.tree.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (GetParam() == PathResolver::openat2 && !openat2_supported(fd.get())) GTEST_SKIP() << "no openat2 here";
    d = w.open(kAllFsOps, std::nullopt, GetParam());
  }

  std::string read(const std::string& path) { return text_of(w.get(d.send<&Directory::read>(path, 0, 100))); }

  FsWorld w;
  Ref<Directory> d;
};

TEST_P(FsLinks, ReadAndOpenFollowLinksInAnyPosition) {
  EXPECT_EQ(read("alias/in.txt"), "inside");
  EXPECT_EQ(read("alias_file"), "alpha");
  EXPECT_EQ(read("chain"), "alpha");
  EXPECT_EQ(read("inner/up_file"), "alpha");
  EXPECT_EQ(read("alias/up_file"), "alpha");  // ".." of a link's target is the link's real directory's
  auto f = w.get(d.send<&Directory::open>("chain"));
  EXPECT_EQ(text_of(w.get(f.send<&File::read>(1, 3))), "lph");
}

TEST_P(FsLinks, StatAndListFollowALastLinkButListEntriesAreThemselves) {
  Stat s = w.get(d.send<&Directory::stat>("alias_file"));
  EXPECT_EQ(s.type, "file");
  EXPECT_EQ(s.size, 5u);
  EXPECT_EQ(w.get(d.send<&Directory::stat>("alias")).type, "dir");
  auto in = w.get(d.send<&Directory::list>("alias"));
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0].name, "in.txt");
  std::vector<std::string> types;
  for (const auto& e : w.get(d.send<&Directory::list>(""))) types.push_back(e.name + ":" + e.type);
  EXPECT_EQ(types,
            (std::vector<std::string>{"a.txt:file", "alias:other", "alias_file:other", "chain:other", "inner:dir"}));
}

TEST_P(FsLinks, SubThroughALinkIsBoundToItsTarget) {
  auto sub = w.get(d.send<&Directory::sub>("alias"));
  EXPECT_EQ(text_of(w.get(sub.send<&Directory::read>("in.txt", 0, 10))), "inside");
  // From the sub, up_file climbs above its root.
  EXPECT_EQ(w.reason(sub.send<&Directory::read>("up_file", 0, 10)), "refused: path \"up_file\" leaves the directory");
  // The link is replaced afterwards: the sub keeps the directory it was given.
  ASSERT_EQ(::unlink(w.tree.path("alias").c_str()), 0);
  w.tree.symlink(".", "alias");
  EXPECT_EQ(w.get(sub.send<&Directory::list>("")).size(), 2u);
}

// fs.md, "The last name": writes never go through a link; nothing is lost.
TEST_P(FsLinks, WritesNeverGoThroughALastLink) {
  const std::string refused = "refused: \"alias_file\" is a symbolic link; writes never go through one";
  auto f = w.get(d.send<&Directory::open>("alias_file"));
  EXPECT_EQ(text_of(w.get(f.send<&File::read>(0, 10))), "alpha");  // still readable
  EXPECT_EQ(w.reason(f.send<&File::write>(0, bytes_of("XX"))), refused);
  EXPECT_EQ(w.reason(f.send<&File::truncate>(0)), refused);
  auto c = w.get(d.send<&Directory::open>("chain"));
  EXPECT_EQ(w.reason(c.send<&File::truncate>(0)), "refused: \"chain\" is a symbolic link; writes never go through one");
  EXPECT_EQ(w.tree.read("a.txt"), "alpha");
  // A link on the way is not the last name: inner/in.txt is written by its name there.
  auto g = w.get(d.send<&Directory::open>("alias/in.txt"));
  w.get(g.send<&File::write>(0, bytes_of("IN")));
  EXPECT_EQ(w.tree.read("inner/in.txt"), "INside");
  // The file's own name writes.
  auto a = w.get(d.send<&Directory::open>("a.txt"));
  w.get(a.send<&File::write>(0, bytes_of("A")));
  EXPECT_EQ(w.tree.read("a.txt"), "Alpha");
}

TEST_P(FsLinks, CreateAndMkdirNeverGoThroughALastLink) {
  EXPECT_EQ(w.reason(d.send<&Directory::create>("alias_file")), "already exists: alias_file");
  EXPECT_EQ(w.reason(d.send<&Directory::mkdir>("alias")), "already exists: alias");
  w.tree.symlink("inner/not_yet", "dangling");
  EXPECT_EQ(w.reason(d.send<&Directory::create>("dangling")), "already exists: dangling");
  EXPECT_FALSE(w.tree.exists("inner/not_yet"));
  // Through a link on the way, they create in its target.
  w.get(d.send<&Directory::create>("alias/new"));
  w.get(d.send<&Directory::mkdir>("alias/made"));
  EXPECT_TRUE(w.tree.exists("inner/new"));
  EXPECT_TRUE(w.tree.exists("inner/made"));
}

TEST_P(FsLinks, RemoveAndRenameActOnTheLinkItself) {
  w.get(d.send<&Directory::rename>("alias_file", "inner/moved"));
  EXPECT_TRUE(w.tree.exists("inner/moved"));
  EXPECT_EQ(w.reason(d.send<&Directory::read>("inner/moved", 0, 10)), "not found: inner/moved");  // a.txt from inner
  w.get(d.send<&Directory::remove>("inner/moved"));
  EXPECT_FALSE(w.tree.exists("inner/moved"));
  EXPECT_EQ(w.reason(d.send<&Directory::remove>("alias/")), "not a directory: alias/");
  w.get(d.send<&Directory::remove>("alias"));  // a link to a non-empty directory: the link goes
  EXPECT_FALSE(w.tree.exists("alias"));
  EXPECT_EQ(w.tree.read("inner/in.txt"), "inside");
  EXPECT_EQ(w.tree.read("a.txt"), "alpha");
}

INSTANTIATE_TEST_SUITE_P(Both, FsLinks, ::testing::Values(PathResolver::openat2, PathResolver::walk),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace vatic::caps::test
