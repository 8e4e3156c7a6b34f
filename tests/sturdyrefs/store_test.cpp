#include "sturdyrefs/store.h"

#include "tests/caps/fs_test_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace vatic::sturdyrefs {
namespace {

using StoreDir = caps::test::TempTree;

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(Store, CreatesAPrivateDirectoryAndDatabase) {
  StoreDir d;
  auto dir = std::filesystem::path(d.root()) / "store";
  auto s = Store::open(dir);
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir / "vat.db"), 0600u);
}

TEST(Store, IdentityAndMasterKeySurviveReopening) {
  StoreDir d;
  captp::VatId first = Store::open(std::filesystem::path(d.root()))->identity().id();
  caps::MasterKey k1 = Store::open(std::filesystem::path(d.root()))->master_key();
  auto s = Store::open(std::filesystem::path(d.root()));
  EXPECT_EQ(s->identity().id(), first);
  caps::MasterKey k2 = s->master_key();
  EXPECT_EQ(std::memcmp(k1.data(), k2.data(), 32), 0);

  StoreDir other;
  EXPECT_NE(Store::open(std::filesystem::path(other.root()))->identity().id(), first);
}

TEST(Store, RefusesADirectoryOtherUsersCanRead) {
  StoreDir d;
  ASSERT_EQ(::chmod(std::filesystem::path(d.root()).c_str(), 0755), 0);
  try {
    Store::open(std::filesystem::path(d.root()));
    FAIL() << "opened a store readable by others";
  } catch (const VatError& e) {
    EXPECT_NE(e.error().reason.find("accessible by other users"), std::string::npos) << e.what();
  }
}

TEST(Store, RefusesASymlinkedStoreDirectory) {
  StoreDir d;
  auto real = std::filesystem::path(d.root()) / "real";
  ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
  std::filesystem::create_directory_symlink(real, std::filesystem::path(d.root()) / "link");
  EXPECT_THROW(Store::open(std::filesystem::path(d.root()) / "link"), VatError);
}

TEST(Store, ObjectsAreFoundByIdAndByNameAndRevoked) {
  StoreDir d;
  auto s = Store::open(std::filesystem::path(d.root()));
  StoredObject a = s->add_object("fs.dir", "rw:/srv", "root");
  StoredObject b = s->add_object("fs.dir", "ro:/srv", "root");
  EXPECT_NE(a.id, b.id);
  auto found = s->find(a.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->kind, "fs.dir");
  EXPECT_EQ(found->params, "rw:/srv");
  EXPECT_FALSE(found->revoked);
  auto named = s->find_named("root", "fs.dir", "ro:/srv");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->id, b.id);

  s->revoke_object(b.id);
  EXPECT_TRUE(s->find(b.id)->revoked);
  // A revoked object is not handed out again under its name: the next
  // export makes a new one, so old tokens stay dead.
  EXPECT_FALSE(s->find_named("root", "fs.dir", "ro:/srv"));
  EXPECT_EQ(s->objects().size(), 2u);

  caps::ObjectId unknown{};
  EXPECT_FALSE(s->find(unknown));
}

TEST(Store, BranchRevocationsPersist) {
  StoreDir d;
  BranchId rid{};
  rid[0] = 7;
  ObjectKeyId object{};
  object[0] = 3;
  EXPECT_TRUE(Store::open(std::filesystem::path(d.root()))->objects_with_revoked_branches().empty());
  Store::open(std::filesystem::path(d.root()))->revoke_branch(object, rid);
  auto s = Store::open(std::filesystem::path(d.root()));
  EXPECT_TRUE(s->branch_revoked(rid));
  EXPECT_EQ(s->objects_with_revoked_branches(), std::set<ObjectKeyId>{object});
  rid[0] = 8;
  EXPECT_FALSE(s->branch_revoked(rid));
}

}  // namespace
}  // namespace vatic::sturdyrefs
