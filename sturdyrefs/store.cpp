#include "sturdyrefs/store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "vat/error.h"

namespace vatic::sturdyrefs {
namespace {

constexpr int kSchemaVersion = 1;

[[noreturn]] void fail(const std::string& what) { throw_error(ErrorKind::failed, what); }

// One prepared statement, finalized on every path.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      fail(fmt::format("store: preparing a statement: {}", sqlite3_errmsg(db)));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& t) {
    check(sqlite3_bind_text(s_, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, const std::uint8_t* p, std::size_t n) {
    check(sqlite3_bind_blob(s_, i, p, static_cast<int>(n), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(s_, i, v));
    return *this;
  }
  // True while a row is available.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(fmt::format("store: {}", sqlite3_errmsg(db_)));
  }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  std::vector<std::uint8_t> blob(int col) const {
    auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
    return p ? std::vector<std::uint8_t>(p, p + sqlite3_column_bytes(s_, col)) : std::vector<std::uint8_t>();
  }
  std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(fmt::format("store: binding a value: {}", sqlite3_errmsg(db_)));
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    fail(fmt::format("store: {}", why));
  }
}

// The store directory must be ours alone: it holds the vat's private key.
void prepare_dir(const std::filesystem::path& dir) {
  // A fresh account may lack ~/.local/share: parents are made as usual, the
  // store itself private.
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    fail(fmt::format("store {}: cannot create: {}", dir.string(), std::strerror(errno)));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) fail(fmt::format("store {}: {}", dir.string(), std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) fail(fmt::format("store {}: not a directory", dir.string()));
  if (st.st_uid != ::geteuid()) fail(fmt::format("store {}: owned by another user", dir.string()));
  if ((st.st_mode & 077) != 0)
    fail(fmt::format("store {}: accessible by other users (mode {:04o}); run chmod 700 on it", dir.string(),
                     st.st_mode & 07777));
}

// SQLite creates files with the umask; the database is made 0600 first.
void prepare_db_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) fail(fmt::format("store {}: {}", file.string(), std::strerror(errno)));
  struct stat st {};
  int rc = ::fstat(fd, &st);
  ::close(fd);
  if (rc != 0 || !S_ISREG(st.st_mode)) fail(fmt::format("store {}: not a regular file", file.string()));
  if ((st.st_mode & 077) != 0)
    fail(fmt::format("store {}: accessible by other users (mode {:04o})", file.string(), st.st_mode & 07777));
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

StoredObject read_object(const Stmt& s) {
  StoredObject o;
  auto id = s.blob(0);
  if (id.size() != o.id.size()) fail("store: an object id of the wrong size (corrupt database)");
  std::memcpy(o.id.data(), id.data(), o.id.size());
  o.kind = s.text(1);
  o.params = s.text(2);
  o.name = s.text(3);
  o.created = s.int64(4);
  o.revoked = s.int64(5) != 0;
  return o;
}

constexpr const char* kObjectColumns = "id, kind, params, name, created, revoked";

}  // namespace

std::unique_ptr<Store> Store::open(const std::filesystem::path& dir) {
  if (sodium_init() < 0) fail("libsodium failed to initialise");
  prepare_dir(dir);
  auto file = dir / "vat.db";
  prepare_db_file(file);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    fail(fmt::format("store {}: {}", file.string(), why));
  }
  std::unique_ptr<Store> s(new Store(dir, db));
  sqlite3_busy_timeout(db, 5000);
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;");
  exec(db,
       "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
       "CREATE TABLE IF NOT EXISTS objects (id BLOB PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL,"
       " name TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
       "CREATE INDEX IF NOT EXISTS objects_by_name ON objects (name, kind);"
       "CREATE TABLE IF NOT EXISTS revoked_branches (id BLOB PRIMARY KEY, object BLOB NOT NULL, at INTEGER NOT NULL);");
  Stmt v(db, "SELECT value FROM meta WHERE key = 'schema'");
  if (v.step()) {
    if (v.text(0) != std::to_string(kSchemaVersion))
      fail(fmt::format("store {}: schema version {} is not {}", file.string(), v.text(0), kSchemaVersion));
  } else {
    Stmt put(db, "INSERT INTO meta (key, value) VALUES ('schema', ?)");
    put.bind(1, std::to_string(kSchemaVersion)).step();
  }
  return s;
}

Store::Store(std::filesystem::path dir, sqlite3* db) : dir_(std::move(dir)), db_(db) {}

Store::~Store() { sqlite3_close(db_); }

std::optional<std::vector<std::uint8_t>> Store::get_secret(const char* name) {
  Stmt s(db_, "SELECT value FROM meta WHERE key = ?");
  s.bind(1, std::string(name));
  if (!s.step()) return std::nullopt;
  return s.blob(0);
}

void Store::put_secret(const char* name, const std::uint8_t* data, std::size_t n) {
  // INSERT, not REPLACE: two processes creating a store at once must not end
  // up with two identities; the loser reads the winner's.
  Stmt s(db_, "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
  s.bind(1, std::string(name)).bind(2, data, n).step();
}

captp::Identity Store::identity() {
  if (!get_secret("identity_seed")) {
    captp::Identity fresh = captp::Identity::generate();
    put_secret("identity_seed", fresh.seed().data(), 32);
  }
  auto raw = get_secret("identity_seed");
  if (!raw || raw->size() != 32) fail("store: the identity seed has the wrong size (corrupt database)");
  Secret<32> seed;
  std::memcpy(seed.data(), raw->data(), 32);
  sodium_memzero(raw->data(), raw->size());
  return captp::Identity::from_seed(seed);
}

caps::MasterKey Store::master_key() {
  if (!get_secret("master_key")) {
    caps::MasterKey fresh = caps::MasterKey::random();
    put_secret("master_key", fresh.data(), 32);
  }
  auto raw = get_secret("master_key");
  if (!raw || raw->size() != 32) fail("store: the master key has the wrong size (corrupt database)");
  caps::MasterKey key;
  std::memcpy(key.data(), raw->data(), 32);
  sodium_memzero(raw->data(), raw->size());
  return key;
}

StoredObject Store::add_object(const std::string& kind, const std::string& params, const std::string& name) {
  StoredObject o;
  randombytes_buf(o.id.data(), o.id.size());
  o.kind = kind;
  o.params = params;
  o.name = name;
  o.created = unix_now();
  Stmt s(db_, "INSERT INTO objects (id, kind, params, name, created) VALUES (?, ?, ?, ?, ?)");
  s.bind(1, o.id.data(), o.id.size()).bind(2, kind).bind(3, params).bind(4, name).bind(5, o.created).step();
  return o;
}

std::optional<StoredObject> Store::find(const ObjectKeyId& id) {
  Stmt s(db_, fmt::format("SELECT {} FROM objects WHERE id = ?", kObjectColumns).c_str());
  s.bind(1, id.data(), id.size());
  if (!s.step()) return std::nullopt;
  return read_object(s);
}

std::optional<StoredObject> Store::find_named(const std::string& name, const std::string& kind,
                                              const std::string& params) {
  Stmt s(db_, fmt::format("SELECT {} FROM objects WHERE name = ? AND kind = ? AND params = ? AND revoked = 0 "
                          "ORDER BY created LIMIT 1",
                          kObjectColumns)
                  .c_str());
  s.bind(1, name).bind(2, kind).bind(3, params);
  if (!s.step()) return std::nullopt;
  return read_object(s);
}

std::vector<StoredObject> Store::objects() {
  Stmt s(db_, fmt::format("SELECT {} FROM objects ORDER BY created", kObjectColumns).c_str());
  std::vector<StoredObject> out;
  while (s.step()) out.push_back(read_object(s));
  return out;
}

void Store::revoke_object(const ObjectKeyId& id) {
  Stmt s(db_, "UPDATE objects SET revoked = 1 WHERE id = ?");
  s.bind(1, id.data(), id.size()).step();
}

void Store::revoke_branch(const ObjectKeyId& object, const BranchId& id) {
  Stmt s(db_, "INSERT OR IGNORE INTO revoked_branches (id, object, at) VALUES (?, ?, ?)");
  s.bind(1, id.data(), id.size()).bind(2, object.data(), object.size()).bind(3, unix_now()).step();
}

std::set<ObjectKeyId> Store::objects_with_revoked_branches() {
  Stmt s(db_, "SELECT DISTINCT object FROM revoked_branches");
  std::set<ObjectKeyId> out;
  while (s.step()) {
    auto b = s.blob(0);
    if (b.size() != ObjectKeyId{}.size()) fail("store: an object id of the wrong size (corrupt database)");
    ObjectKeyId id;
    std::memcpy(id.data(), b.data(), id.size());
    out.insert(id);
  }
  return out;
}

std::int64_t Store::data_version() {
  Stmt s(db_, "PRAGMA data_version");
  if (!s.step()) fail("store: PRAGMA data_version returned nothing");
  return s.int64(0);
}

bool Store::branch_revoked(const BranchId& id) {
  Stmt s(db_, "SELECT 1 FROM revoked_branches WHERE id = ?");
  s.bind(1, id.data(), id.size());
  return s.step();
}

}  // namespace vatic::sturdyrefs
