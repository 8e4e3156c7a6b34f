#include "sturdyrefs/store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "vat/error.h"

namespace vatic::sturdyrefs {
namespace {

constexpr int kSchemaVersion = 1;

[[noreturn]] void fail(const std::string& what) { throw_error(ErrorKind::failed, what); }

// strerror, lowercased as the rest of our reasons ("no space left on device").
std::string os_error(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z'))
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

// What went wrong in SQLite, in the operator's words. A full disk shows as
// SQLITE_FULL, or as an I/O error whose system errno is ENOSPC (a WAL or
// journal write): either way the operator must learn that the disk is full,
// not read "disk I/O error".
std::string sqlite_reason(sqlite3* db, int rc) {
  if ((rc & 0xff) == SQLITE_FULL || (db && sqlite3_system_errno(db) == ENOSPC)) return "no space left on device";
  return db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
}

// "store <file>: <reason>", naming the database file.
[[noreturn]] void fail_sqlite(sqlite3* db, int rc, std::string_view doing = {}) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  std::string where = file && *file ? fmt::format("store {}", file) : std::string("store");
  fail(doing.empty() ? fmt::format("{}: {}", where, sqlite_reason(db, rc))
                     : fmt::format("{}: {}: {}", where, doing, sqlite_reason(db, rc)));
}

// One prepared statement, finalized on every path.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (int rc = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); rc != SQLITE_OK)
      fail_sqlite(db, rc, "preparing a statement");
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
    fail_sqlite(db_, rc);
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
    if (rc != SQLITE_OK) fail_sqlite(db_, rc, "binding a value");
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
    sqlite3_free(err);  // sqlite_reason reads the same message from the handle
    fail_sqlite(db, rc);
  }
}

// The store directory must be ours alone: it holds the vat's private key.
void prepare_dir(const std::filesystem::path& dir) {
  // A fresh account may lack ~/.local/share: parents are made as usual, the
  // store itself private.
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    fail(fmt::format("store {}: cannot create: {}", dir.string(), os_error(errno)));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) fail(fmt::format("store {}: {}", dir.string(), os_error(errno)));
  if (!S_ISDIR(st.st_mode)) fail(fmt::format("store {}: not a directory", dir.string()));
  if (st.st_uid != ::geteuid()) fail(fmt::format("store {}: owned by another user", dir.string()));
  if ((st.st_mode & 077) != 0)
    fail(fmt::format("store {}: accessible by other users (mode {:04o}); run chmod 700 on it", dir.string(),
                     st.st_mode & 07777));
}

// The existing database must be a regular file of ours, private.
void check_db_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail(fmt::format("store {}: {}", file.string(), os_error(errno)));
  struct stat st {};
  int rc = ::fstat(fd, &st);
  ::close(fd);
  if (rc != 0 || !S_ISREG(st.st_mode)) fail(fmt::format("store {}: not a regular file", file.string()));
  if ((st.st_mode & 077) != 0)
    fail(fmt::format("store {}: accessible by other users (mode {:04o})", file.string(), st.st_mode & 07777));
}

constexpr const char* kSchemaSql =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects (id BLOB PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL,"
    " name TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS objects_by_name ON objects (name, kind);"
    "CREATE TABLE IF NOT EXISTS revoked_branches (id BLOB PRIMARY KEY, object BLOB NOT NULL, at INTEGER NOT NULL);";

constexpr const char* kDbName = "vat.db";
// A database being created: written under this prefix, renamed to vat.db
// only once complete.
constexpr std::string_view kInitPrefix = "vat.db.init-";

// The database, missing or empty, next to what shows the store had one.
struct Leftovers {
  std::vector<std::string> names;  // sorted, for the message
};

// Everything in the store directory but the lock (tools/store_lock.h) and
// unfinished creations (which never held an identity anyone used).
Leftovers leftovers_in(const std::filesystem::path& dir) {
  Leftovers out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name == kStoreLockFile || name.starts_with(kInitPrefix)) continue;
    out.names.push_back(name);
  }
  if (ec) fail(fmt::format("store {}: {}", dir.string(), os_error(ec.value())));
  std::sort(out.names.begin(), out.names.end());
  return out;
}

// With Create::explicitly: the remains of the lost database (vat.db and its
// -wal, -shm and -journal files) are renamed aside, never deleted: a WAL may
// still hold the old identity, and a new database must not replay it.
void move_aside(const std::filesystem::path& dir, const Clock& clock) {
  std::string suffix = fmt::format(".lost-{}", clock.unix_seconds());
  for (const char* name : {"vat.db", "vat.db-wal", "vat.db-shm", "vat.db-journal"}) {
    auto from = dir / name;
    struct stat st {};
    if (::lstat(from.c_str(), &st) != 0) continue;
    auto to = dir / (std::string(name) + suffix);
    if (::rename(from.c_str(), to.c_str()) != 0)
      fail(fmt::format("store {}: cannot move {} aside: {}", dir.string(), name, os_error(errno)));
  }
}

void sync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(fmt::format("store {}: {}", dir.string(), os_error(errno)));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail(fmt::format("store {}: {}", dir.string(), os_error(err)));
}

// Creates vat.db with its schema, a fresh identity seed and master key, as one
// step: written to vat.db.init-<random>, synced, then renamed to vat.db. A
// failure (a full disk, a kill) leaves no vat.db at all, let alone an empty
// one that a later start would take for a store to fill. Two processes
// creating at once: the rename refuses to replace, and the loser uses the
// winner's database.
void create_database(const std::filesystem::path& dir) {
  std::uint8_t nonce[8];
  randombytes_buf(nonce, sizeof nonce);
  auto tmp = dir / fmt::format("{}{:02x}", kInitPrefix, fmt::join(nonce, nonce + sizeof nonce, ""));
  auto final_path = dir / kDbName;
  auto cleanup = [&] {
    ::unlink(tmp.c_str());
    ::unlink((tmp.string() + "-journal").c_str());
  };
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) fail(fmt::format("store {}: cannot create {}: {}", dir.string(), kDbName, os_error(errno)));
  ::close(fd);
  sqlite3* db = nullptr;
  try {
    if (int rc = sqlite3_open_v2(tmp.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
        rc != SQLITE_OK)
      fail_sqlite(db, rc, "creating the database");
    exec(db, "PRAGMA synchronous=FULL; BEGIN IMMEDIATE;");
    exec(db, kSchemaSql);
    {  // the statement is finalized before the close below
      captp::Identity identity = captp::Identity::generate();
      caps::MasterKey master = caps::MasterKey::random();
      Stmt meta(db, "INSERT INTO meta (key, value) VALUES ('schema', ?), ('identity_seed', ?), ('master_key', ?)");
      meta.bind(1, std::to_string(kSchemaVersion)).bind(2, identity.seed().data(), 32).bind(3, master.data(), 32);
      meta.step();
    }
    exec(db, "COMMIT;");
    if (int rc = sqlite3_close(db); rc != SQLITE_OK) fail_sqlite(db, rc, "closing the new database");
    db = nullptr;
    fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      int err = errno;
      if (fd >= 0) ::close(fd);
      fail(fmt::format("store {}: cannot create {}: {}", dir.string(), kDbName, os_error(err)));
    }
    ::close(fd);
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno != EEXIST) fail(fmt::format("store {}: cannot create {}: {}", dir.string(), kDbName, os_error(errno)));
      cleanup();  // another process created it first: theirs stands
      return;
    }
    sync_dir(dir);
  } catch (...) {
    if (db) sqlite3_close(db);
    cleanup();
    throw;
  }
}

// Whether vat.db is there with content (a database to open), or missing or
// empty (0 bytes: nothing an identity could be read from).
bool has_database(const std::filesystem::path& file) {
  struct stat st {};
  if (::lstat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    fail(fmt::format("store {}: {}", file.string(), os_error(errno)));
  }
  return st.st_size > 0 || !S_ISREG(st.st_mode);  // not a regular file: check_db_file says so
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

std::unique_ptr<Store> Store::open(const std::filesystem::path& dir, Create create, const Clock& clock) {
  if (sodium_init() < 0) fail("libsodium failed to initialise");
  prepare_dir(dir);
  auto file = dir / kDbName;
  if (!has_database(file)) {
    // An identity is created only when asked to (spec: README, `vatic serve
    // --init`): in an empty store, or explicitly. A store that shows it had
    // one must not silently become another vat: every sturdy ref of the old
    // one would stop working, and its admin.ref would name a vat that is gone.
    Leftovers left = leftovers_in(dir);
    if (!left.names.empty() && create != Create::explicitly)
      fail(
          fmt::format("store {}: vat.db is {} but the store held an identity (found {}); refusing to create a new "
                      "one. Restore vat.db from a backup, or pass --init to start a new identity (the old sturdy "
                      "refs stop working)",
                      dir.string(), std::filesystem::exists(file) ? "empty" : "missing", fmt::join(left.names, ", ")));
    if (create == Create::never) fail(fmt::format("store {}: no vat.db (no identity here)", dir.string()));
    if (!left.names.empty()) move_aside(dir, clock);
    create_database(dir);
  }
  check_db_file(file);
  sqlite3* db = nullptr;
  if (int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
      rc != SQLITE_OK) {
    std::string why = db ? sqlite_reason(db, rc) : "out of memory";
    sqlite3_close(db);
    fail(fmt::format("store {}: {}", file.string(), why));
  }
  std::unique_ptr<Store> s(new Store(dir, db, clock));
  sqlite3_busy_timeout(db, 5000);
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;");
  exec(db, kSchemaSql);
  Stmt v(db, "SELECT value FROM meta WHERE key = 'schema'");
  if (v.step()) {
    if (v.text(0) != std::to_string(kSchemaVersion))
      fail(fmt::format("store {}: schema version {} is not {}", file.string(), v.text(0), kSchemaVersion));
  } else {
    Stmt put(db, "INSERT INTO meta (key, value) VALUES ('schema', ?)");
    put.bind(1, std::to_string(kSchemaVersion)).step();
  }
  // A database without an identity (emptied by hand, or made by an old
  // version that created it lazily) gets one only when asked to.
  if (!s->get_secret("identity_seed")) {
    if (create != Create::explicitly)
      fail(fmt::format("store {}: vat.db holds no identity; refusing to create one. Pass --init to create it",
                       dir.string()));
    captp::Identity fresh = captp::Identity::generate();
    s->put_secret("identity_seed", fresh.seed().data(), 32);
  }
  return s;
}

Store::Store(std::filesystem::path dir, sqlite3* db, const Clock& clock)
    : dir_(std::move(dir)), db_(db), clock_(clock) {}

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
  // open() made sure there is one; this reads it.
  auto raw = get_secret("identity_seed");
  if (!raw) fail(fmt::format("store {}: the identity seed is missing (it was deleted while open)", dir_.string()));
  if (raw->size() != 32) fail("store: the identity seed has the wrong size (corrupt database)");
  Secret<32> seed;
  std::memcpy(seed.data(), raw->data(), 32);
  sodium_memzero(raw->data(), raw->size());
  return captp::Identity::from_seed(seed);
}

caps::MasterKey Store::master_key() {
  if (!get_secret("master_key")) {
    // Stores made by `vatic id` before keys were made at creation have none
    // yet; one is made now, but only while no object has a token: a missing
    // key with objects means tokens were issued under a key that is lost, and
    // a new one would turn them all into "invalid token" without a word.
    Stmt any(db_, "SELECT 1 FROM objects LIMIT 1");
    if (any.step())
      fail(
          fmt::format("store {}: the master key is missing but sturdy refs were issued under it; restore vat.db "
                      "from a backup",
                      dir_.string()));
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
  o.created = clock_.unix_seconds();
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
  s.bind(1, id.data(), id.size()).bind(2, object.data(), object.size()).bind(3, clock_.unix_seconds()).step();
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
