#include "sturdyrefs/store.h"

#include "tests/caps/fs_test_util.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

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

namespace vatic::sturdyrefs {
namespace {

std::string reason_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const VatError& e) {
    return e.error().reason;
  }
  return "(no error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A store that has served: its database and the admin.ref `vatic serve` writes.
std::filesystem::path served_store(const StoreDir& d, std::optional<captp::VatId>* id = nullptr) {
  auto dir = std::filesystem::path(d.root()) / "store";
  auto s = Store::open(dir);
  s->add_object("fs.dir", "{}", "root");
  if (id) *id = s->identity().id();
  d.write("store/admin.ref", "vatic://...\n");
  return dir;
}

TEST(Store, ADeletedDatabaseIsNotSilentlyReplacedByANewIdentity) {
  StoreDir d;
  auto dir = served_store(d);
  std::filesystem::remove(dir / "vat.db");
  std::string why = reason_of([&] { Store::open(dir); });
  EXPECT_TRUE(contains(why, "vat.db is missing")) << why;
  EXPECT_TRUE(contains(why, "admin.ref")) << why;
  EXPECT_TRUE(contains(why, "--init")) << why;
  EXPECT_FALSE(std::filesystem::exists(dir / "vat.db")) << "a refusal creates nothing";
  EXPECT_TRUE(contains(reason_of([&] { Store::open(dir, Create::never); }), "vat.db is missing"));
}

TEST(Store, AnEmptiedDatabaseIsNotSilentlyReplacedByANewIdentity) {
  StoreDir d;
  auto dir = served_store(d);
  std::filesystem::resize_file(dir / "vat.db", 0);
  std::string why = reason_of([&] { Store::open(dir); });
  EXPECT_TRUE(contains(why, "vat.db is empty")) << why;
  EXPECT_EQ(std::filesystem::file_size(dir / "vat.db"), 0u);

  // A client store has no admin.ref: the empty vat.db alone shows the loss.
  StoreDir c;
  auto client = std::filesystem::path(c.root()) / "client";
  Store::open(client);
  std::filesystem::resize_file(client / "vat.db", 0);
  EXPECT_TRUE(contains(reason_of([&] { Store::open(client); }), "found vat.db"))
      << reason_of([&] { Store::open(client); });
}

TEST(Store, ADatabaseWithItsIdentityDeletedIsRefused) {
  StoreDir d;
  auto dir = served_store(d);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "vat.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DELETE FROM meta WHERE key = 'identity_seed'", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_TRUE(contains(reason_of([&] { Store::open(dir); }), "holds no identity"));
}

TEST(Store, InitCreatesANewIdentityAndMovesTheOldRemainsAside) {
  StoreDir d;
  std::optional<captp::VatId> old_id;
  auto dir = served_store(d, &old_id);
  std::filesystem::resize_file(dir / "vat.db", 0);
  auto s = Store::open(dir, Create::explicitly);
  EXPECT_NE(s->identity().id(), old_id);
  bool kept = false;
  for (const auto& n : names_in(dir)) kept = kept || n.starts_with("vat.db.lost-");
  EXPECT_TRUE(kept) << "the emptied database is renamed aside, not deleted";
  EXPECT_EQ(mode_of(dir / "vat.db"), 0600u);
}

TEST(Store, InitNeverReplacesAnExistingIdentity) {
  StoreDir d;
  std::optional<captp::VatId> id;
  auto dir = served_store(d, &id);
  EXPECT_EQ(Store::open(dir, Create::explicitly)->identity().id(), id);
}

TEST(Store, CreationLeavesOnlyTheDatabaseAndKeysAreMadeWithTheIdentity) {
  StoreDir d;
  auto dir = std::filesystem::path(d.root()) / "store";
  Store::open(dir);
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"vat.db"});  // no vat.db.init-*, no journal
  // The master key is there before any Host asks for it: reopening with the
  // lock file present (not part of the store) finds the same key.
  std::ofstream(dir / kStoreLockFile) << "123\n";
  caps::MasterKey k1 = Store::open(dir)->master_key();
  caps::MasterKey k2 = Store::open(dir)->master_key();
  EXPECT_EQ(std::memcmp(k1.data(), k2.data(), 32), 0);
}

TEST(Store, AStoreHoldingOnlyTheLockFileCountsAsEmpty) {
  StoreDir d;
  auto dir = std::filesystem::path(d.root()) / "store";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  std::ofstream(dir / kStoreLockFile) << "123\n";
  EXPECT_NO_THROW(Store::open(dir));
}

TEST(Store, AMissingMasterKeyWithIssuedObjectsIsRefused) {
  StoreDir d;
  auto dir = served_store(d);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "vat.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DELETE FROM meta WHERE key = 'master_key'", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = Store::open(dir);
  EXPECT_TRUE(contains(reason_of([&] { s->master_key(); }), "master key is missing"));
}

}  // namespace
}  // namespace vatic::sturdyrefs
