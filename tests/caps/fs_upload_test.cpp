#include "caps/fs/upload.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "caps/fs/directory.h"
#include "tests/caps/fs_test_util.h"

namespace vatic::caps::test {
namespace {

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// The names in the tree's root, as the host sees them (temporary files too).
std::vector<std::string> host_names(const TempTree& t, const std::string& sub = "") {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(t.path(sub))) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool has_partial(const TempTree& t, const std::string& sub = "") {
  for (const auto& n : host_names(t, sub))
    if (n.starts_with(kPartialUploadPrefix)) return true;
  return false;
}

TEST(Upload, ReplacesTheFileOnlyOnCommit) {
  FsWorld w;
  w.tree.write("notes", "old content");
  Ref<Upload> up = w.get(w.open().send<&Directory::upload>("notes"));
  w.get(up.send<&Upload::write>(std::uint64_t{0}, bytes("new")));
  EXPECT_EQ(w.tree.read("notes"), "old content");  // until commit, the old file is whole
  EXPECT_TRUE(has_partial(w.tree));
  EXPECT_EQ(w.get(up.send<&Upload::commit>()), 3);
  EXPECT_EQ(w.tree.read("notes"), "new");
  EXPECT_FALSE(has_partial(w.tree));
}

TEST(Upload, AnAbandonedOrAbortedUploadLeavesNothing) {
  FsWorld w;
  w.tree.write("notes", "old content");
  {
    Ref<Upload> up = w.get(w.open().send<&Directory::upload>("notes"));
    w.get(up.send<&Upload::write>(std::uint64_t{0}, bytes("half")));
  }  // the last reference goes, as when the uploader's connection drops
  w.vat.run_until_idle();
  EXPECT_FALSE(has_partial(w.tree));
  Ref<Upload> up = w.get(w.open().send<&Directory::upload>("fresh"));
  w.get(up.send<&Upload::abort>());
  EXPECT_FALSE(has_partial(w.tree));
  EXPECT_NE(w.reason(up.send<&Upload::commit>()).find("ended: aborted"), std::string::npos);
  EXPECT_EQ(w.tree.read("notes"), "old content");
  EXPECT_FALSE(w.tree.exists("fresh"));
}

TEST(Upload, ReplacingNeedsWriteAndCreatingNeedsCreate) {
  FsWorld w;
  w.tree.write("notes", "x");
  EXPECT_EQ(w.reason(w.open(static_cast<FsOps>(FsOp::create)).send<&Directory::upload>("notes")).rfind("refused:", 0),
            0u);
  EXPECT_EQ(w.reason(w.open(static_cast<FsOps>(FsOp::write)).send<&Directory::upload>("new")).rfind("refused:", 0), 0u);
  Ref<Upload> up = w.get(w.open(static_cast<FsOps>(FsOp::create)).send<&Directory::upload>("new"));
  w.get(up.send<&Upload::commit>());
  EXPECT_TRUE(w.tree.exists("new"));
}

TEST(Upload, TemporaryNamesAreHiddenAndCannotBeNamed) {
  FsWorld w;
  Ref<Directory> d = w.open();
  Ref<Upload> up = w.get(d.send<&Directory::upload>("notes"));
  std::string part;
  for (const auto& n : host_names(w.tree))
    if (n.starts_with(kPartialUploadPrefix)) part = n;
  ASSERT_FALSE(part.empty());
  EXPECT_TRUE(w.get(d.send<&Directory::list>("")).empty());
  for (std::string p : {part, "sub/" + part, std::string(kPartialUploadPrefix) + "x"}) {
    EXPECT_EQ(w.reason(d.send<&Directory::open>(p)).rfind("refused:", 0), 0u) << p;
    EXPECT_EQ(w.reason(d.send<&Directory::remove>(p)).rfind("refused:", 0), 0u) << p;
    EXPECT_EQ(w.reason(d.send<&Directory::upload>(p)).rfind("refused:", 0), 0u) << p;
  }
}

TEST(Upload, TheSweepRemovesLeftoversButNotALiveUpload) {
  FsWorld w;
  w.tree.mkdir("a");
  w.tree.write(std::string("a/") + std::string(kPartialUploadPrefix) + "dead", "left by a killed server");
  w.tree.write("keep.txt", "user data");
  Ref<Upload> live = w.get(w.open().send<&Directory::upload>("notes"));
  EXPECT_EQ(sweep_partial_uploads(w.tree.root()), 1u);
  EXPECT_FALSE(has_partial(w.tree, "a"));
  EXPECT_TRUE(has_partial(w.tree));  // locked by the live upload
  EXPECT_EQ(w.tree.read("keep.txt"), "user data");
  w.get(live.send<&Upload::commit>());
  EXPECT_TRUE(w.tree.exists("notes"));
}

}  // namespace
}  // namespace vatic::caps::test
