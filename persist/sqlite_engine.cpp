#include "persist/sqlite_engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <sqlite3.h>

#include "persist/internal/engine_common.h"

namespace vatic::persist {

namespace {

// Version 2 added the pre-image tables (spec/persistence.md 6), version 3
// the reminders' pre-image (`reminder_preimage`), version 4 the reminders'
// claims (section 8: `claim_host`, `claim_until`). An older file gains the
// new tables on open (CREATE TABLE IF NOT EXISTS) and the new columns
// (add_claim_columns) and is marked current.
constexpr const char* kSchemaVersion = "4";
constexpr std::array<const char*, 3> kSchemaVersionsBefore{"1", "2", "3"};

// spec/persistence.md, section 5 (SQLite). Keys are blobs: they compare
// bytewise, which is what scan(prefix) needs.
constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS persist_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pobj (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pkv (
  id TEXT NOT NULL,
  k BLOB NOT NULL,
  v BLOB NOT NULL,
  PRIMARY KEY (id, k)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reminder (
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  due INTEGER NOT NULL,
  period INTEGER NOT NULL,
  claim_host TEXT,
  claim_until INTEGER,
  PRIMARY KEY (id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activation (
  id TEXT PRIMARY KEY,
  host TEXT,
  epoch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS preimage (
  id TEXT PRIMARY KEY,
  from_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pkv_preimage (
  id TEXT NOT NULL,
  k BLOB NOT NULL,
  v BLOB,
  PRIMARY KEY (id, k)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reminder_preimage (
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  due INTEGER,
  period INTEGER,
  PRIMARY KEY (id, name)
) WITHOUT ROWID;
)sql";

// "persist store <file>: <doing>: <reason>"; a full disk says so in words.
[[noreturn]] void fail_sqlite(sqlite3* db, int rc, std::string_view doing) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  std::string reason = (rc & 0xff) == SQLITE_FULL || (db && sqlite3_system_errno(db) == ENOSPC)
                           ? std::string("no space left on device")
                           : std::string(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  throw_error(ErrorKind::failed, fmt::format("persist store {}: {}: {}", file ? file : "", doing, reason));
}

// A key bound as a blob.
struct Blob {
  std::string_view s;
};

// One prepared statement, kept for the engine's life and reset after each use
// so that it holds no lock between transactions.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr); rc != SQLITE_OK)
      fail_sqlite(db, rc, "preparing a statement");
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  template <class... A>
  Stmt& bind(const A&... a) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    int i = 0;
    (one(++i, a), ...);
    return *this;
  }
  // True while a row is available; resets itself when done.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    sqlite3_reset(s_);
    if (rc != SQLITE_DONE) fail_sqlite(db_, rc, "running a statement");
    return false;
  }
  void run() {
    while (step()) {
    }
  }
  void reset() { sqlite3_reset(s_); }
  sqlite3_stmt* raw() noexcept { return s_; }
  std::int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  std::string text(int c) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }
  Bytes bytes(int c) {
    auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, c));
    return p ? Bytes(p, p + sqlite3_column_bytes(s_, c)) : Bytes();
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail_sqlite(db_, rc, "binding a parameter");
  }
  void one(int i, std::string_view t) {
    // The 64-bit forms: a length above INT_MAX is refused by SQLite, not cut.
    check(sqlite3_bind_text64(s_, i, t.data(), t.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void one(int i, const std::string& t) { one(i, std::string_view(t)); }
  void one(int i, Blob b) {
    check(sqlite3_bind_blob64(s_, i, b.s.empty() ? "" : b.s.data(), b.s.size(), SQLITE_TRANSIENT));
  }
  void one(int i, const Bytes& b) {
    check(sqlite3_bind_blob64(s_, i, b.empty() ? static_cast<const void*>("") : b.data(), b.size(), SQLITE_TRANSIENT));
  }
  void one(int i, std::int64_t v) { check(sqlite3_bind_int64(s_, i, v)); }
  void one(int i, std::nullptr_t) { check(sqlite3_bind_null(s_, i)); }

  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

}  // namespace

struct SqliteEngine::Statements {
  explicit Statements(sqlite3* db)
      : begin(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT"),
        rollback(db, "ROLLBACK"),
        find_obj(db, "SELECT kind, version FROM pobj WHERE id = ?"),
        add_obj(db, "INSERT INTO pobj (id, kind, version) VALUES (?, ?, ?)"),
        bump(db,
             "INSERT INTO activation (id, host, epoch) VALUES (?, ?, 1) "
             "ON CONFLICT (id) DO UPDATE SET epoch = epoch + 1, host = excluded.host RETURNING epoch"),
        deactivate(db, "UPDATE activation SET host = NULL WHERE id = ? AND epoch = ?"),
        epoch(db, "SELECT epoch FROM activation WHERE id = ?"),
        get(db, "SELECT v FROM pkv WHERE id = ? AND k = ?"),
        scan(db, "SELECT k, v FROM pkv WHERE id = ? AND k >= ? ORDER BY k"),
        scan_to(db, "SELECT k, v FROM pkv WHERE id = ? AND k >= ? AND k < ? ORDER BY k"),
        put(db, "INSERT INTO pkv (id, k, v) VALUES (?, ?, ?) ON CONFLICT (id, k) DO UPDATE SET v = excluded.v"),
        erase(db, "DELETE FROM pkv WHERE id = ? AND k = ?"),
        remind(db,
               "INSERT INTO reminder (id, name, due, period) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (id, name) DO UPDATE SET due = excluded.due, period = excluded.period, "
               "claim_host = NULL, claim_until = NULL"),
        // spec/persistence.md 8: one conditional update.
        claim(db,
              "UPDATE reminder SET claim_host = ?1, claim_until = ?2 WHERE id = ?3 AND name = ?4 AND due = ?5 "
              "AND period = ?6 AND (claim_host IS NULL OR claim_host = ?1 OR claim_until <= ?7)"),
        find_claim(db, "SELECT due, period, claim_until FROM reminder WHERE id = ? AND name = ?"),
        forget(db, "DELETE FROM reminder WHERE id = ? AND name = ?"),
        reminders(db, "SELECT id, name, due, period FROM reminder WHERE id >= ? AND id < ? ORDER BY id, name"),
        set_version(db, "UPDATE pobj SET version = ? WHERE id = ?"),
        find_pre(db, "SELECT from_version FROM preimage WHERE id = ?"),
        set_pre(db,
                "INSERT INTO preimage (id, from_version) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET from_version = excluded.from_version"),
        drop_pre(db, "DELETE FROM preimage WHERE id = ?"),
        drop_pre_kv(db, "DELETE FROM pkv_preimage WHERE id = ?"),
        put_pre_kv(db, "INSERT INTO pkv_preimage (id, k, v) VALUES (?, ?, ?)"),
        pre_kv(db, "SELECT k, v FROM pkv_preimage WHERE id = ? ORDER BY k"),
        fence(db, "UPDATE activation SET epoch = epoch + 1, host = NULL WHERE id = ?"),
        find_reminder(db, "SELECT due, period FROM reminder WHERE id = ? AND name = ?"),
        put_pre_reminder(db, "INSERT INTO reminder_preimage (id, name, due, period) VALUES (?, ?, ?, ?)"),
        drop_pre_reminders(db, "DELETE FROM reminder_preimage WHERE id = ?"),
        pre_reminders(db, "SELECT name, due, period FROM reminder_preimage WHERE id = ? ORDER BY name"),
        migrated(db,
                 "SELECT p.id FROM pobj p JOIN preimage r ON r.id = p.id WHERE p.kind = ? AND p.version = ? "
                 "ORDER BY p.id") {}
  Stmt begin, commit, rollback, find_obj, add_obj, bump, deactivate, epoch, get, scan, scan_to, put, erase, remind,
      claim, find_claim, forget, reminders, set_version, find_pre, set_pre, drop_pre, drop_pre_kv, put_pre_kv, pre_kv,
      fence, find_reminder, put_pre_reminder, drop_pre_reminders, pre_reminders, migrated;
};

namespace {
// Rolls back the transaction unless it was committed (every path out of a
// transaction, exceptions included).
class Txn {
 public:
  explicit Txn(Stmt& begin, Stmt& commit, Stmt& rollback) : commit_(commit), rollback_(rollback) { begin.run(); }
  ~Txn() {
    if (!done_) {
      try {
        rollback_.run();
      } catch (...) {
        // The transaction is gone either way (SQLite rolls back on its own
        // after most errors); the original failure is the one to report.
      }
    }
  }
  void commit() {
    commit_.run();
    done_ = true;
  }

 private:
  Stmt& commit_;
  Stmt& rollback_;
  bool done_ = false;
};
}  // namespace

// synchronous=NORMAL for the scope (WAL: written, not fsync'd), FULL after;
// commits always run at FULL.
class SqliteEngine::Durability {
 public:
  Durability(SqliteEngine& e, bool full) : e_(e) {
    e_.exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  }
  ~Durability() {
    try {
      e_.exec("PRAGMA synchronous=FULL");
    } catch (...) {
      e_.broken_ = true;  // commit() refuses rather than commit without fsync
    }
  }
  Durability(const Durability&) = delete;
  Durability& operator=(const Durability&) = delete;

 private:
  SqliteEngine& e_;
};

std::unique_ptr<SqliteEngine> SqliteEngine::open(const std::filesystem::path& file) {
  // spec/persistence.md 5: the file holds every object's state, so only its
  // owner may read it. SQLite creates the -wal and -shm files with the mode
  // of the database file, so creating it 0600 here covers all three.
  if (int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600); fd >= 0)
    ::close(fd);
  else
    throw_error(ErrorKind::failed, fmt::format("persist store {}: {}", file.string(), std::strerror(errno)));
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw_error(ErrorKind::failed, fmt::format("persist store {}: {}", file.string(), why));
  }
  std::unique_ptr<SqliteEngine> e(new SqliteEngine(db, file));
  sqlite3_busy_timeout(db, 5000);
  {
    Stmt wal(db, "PRAGMA journal_mode=WAL");
    if (!wal.step() || wal.text(0) != "wal")
      throw_error(ErrorKind::failed, fmt::format("persist store {}: cannot switch to WAL journaling", file.string()));
    wal.reset();
  }
  // spec/persistence.md 5: an acknowledged commit survives SIGKILL and power loss.
  e->exec("PRAGMA synchronous=FULL");
  e->exec(kSchemaSql);
  e->add_claim_columns();
  {
    Stmt v(db, "SELECT value FROM persist_meta WHERE key = 'schema'");
    if (v.step()) {
      std::string got = v.text(0);
      v.reset();
      if (std::find(kSchemaVersionsBefore.begin(), kSchemaVersionsBefore.end(), got) != kSchemaVersionsBefore.end()) {
        Stmt up(db, "UPDATE persist_meta SET value = ? WHERE key = 'schema'");
        up.bind(std::string_view(kSchemaVersion)).run();
      } else if (got != kSchemaVersion)
        throw_error(ErrorKind::failed,
                    fmt::format("persist store {}: schema version {} is not {}", file.string(), got, kSchemaVersion));
    } else {
      Stmt put(db, "INSERT INTO persist_meta (key, value) VALUES ('schema', ?)");
      put.bind(std::string_view(kSchemaVersion)).run();
    }
  }
  e->st_ = std::make_unique<Statements>(db);
  return e;
}

SqliteEngine::SqliteEngine(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}

SqliteEngine::~SqliteEngine() {
  st_.reset();  // statements first: sqlite3_close refuses while any is open
  sqlite3_close(db_);
}

void SqliteEngine::add_claim_columns() {
  // A table made before schema 4 lacks them (CREATE TABLE IF NOT EXISTS
  // leaves it as it is); ALTER TABLE ADD COLUMN keeps every row.
  bool has = false;
  {
    Stmt cols(db_, "SELECT 1 FROM pragma_table_info('reminder') WHERE name = 'claim_host'");
    has = cols.step();
    cols.reset();
  }
  if (!has)
    exec("ALTER TABLE reminder ADD COLUMN claim_host TEXT; ALTER TABLE reminder ADD COLUMN claim_until INTEGER;");
}

void SqliteEngine::exec(const char* sql) {
  char* err = nullptr;
  if (int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string why = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw_error(ErrorKind::failed, fmt::format("persist store {}: {}", file_.string(), why));
  }
}

Result<Grant> SqliteEngine::activate(const std::string& id, std::string_view kind, std::int64_t version,
                                     std::string_view host) {
  Statements& s = *st_;
  // spec/persistence.md 5 (SQLite): the bump is made durable by the next
  // commit, whose fsync covers every earlier frame of the WAL; it needs no
  // fsync of its own (a crash before that commit loses it together with
  // every activation that could have relied on it).
  Durability lazy(*this, false);
  Txn txn(s.begin, s.commit, s.rollback);
  Grant g;
  g.version = version;
  if (s.find_obj.bind(id).step()) {
    std::string stored_kind = s.find_obj.text(0);
    std::int64_t stored_version = s.find_obj.i64(1);
    s.find_obj.reset();
    if (auto ok = internal::check_stored_kind(id, stored_kind, stored_version, kind, version); !ok)
      return refuse(ok.error());
    g.version = stored_version;
  } else {
    s.add_obj.bind(id, kind, version).run();
    g.created = true;
  }
  if (!s.bump.bind(id, host).step()) throw_error(ErrorKind::failed, "persist store: activation returned no epoch");
  g.epoch = s.bump.i64(0);
  s.bump.run();  // RETURNING: the row is written when the statement runs to its end
  txn.commit();
  return g;
}

void SqliteEngine::deactivate(const std::string& id, std::int64_t epoch) {
  Durability lazy(*this, false);  // a lost deactivation changes no epoch
  st_->deactivate.bind(id, epoch).run();
}

std::optional<Bytes> SqliteEngine::get(const std::string& id, std::string_view key) {
  Stmt& g = st_->get;
  if (!g.bind(id, Blob{key}).step()) return std::nullopt;
  Bytes v = g.bytes(0);
  g.reset();
  return v;
}

std::vector<std::pair<std::string, Bytes>> SqliteEngine::scan(const std::string& id, std::string_view prefix) {
  std::optional<std::string> end = internal::prefix_end(prefix);
  Stmt& q = end ? st_->scan_to : st_->scan;
  if (end)
    q.bind(id, Blob{prefix}, Blob{*end});
  else
    q.bind(id, Blob{prefix});
  std::vector<std::pair<std::string, Bytes>> out;
  while (q.step()) out.emplace_back(q.text(0), q.bytes(1));
  return out;
}

CommitReport SqliteEngine::commit(std::span<const ObjectWrites> batch) {
  Statements& s = *st_;
  if (broken_)
    throw_error(ErrorKind::failed,
                fmt::format("persist store {}: cannot restore synchronous=FULL; refusing to commit", file_.string()));
  CommitReport report;
  Txn txn(s.begin, s.commit, s.rollback);
  for (const ObjectWrites& o : batch) {
    // spec/persistence.md 4, "Fence failure": checked inside the transaction.
    bool current = false;
    if (o.create) {
      // 5.1, "Fresh objects": made now, unless someone made the id meanwhile.
      bool exists = s.find_obj.bind(o.id).step();
      s.find_obj.reset();
      exists = exists || s.epoch.bind(o.id).step();
      s.epoch.reset();
      if (!exists) {
        s.add_obj.bind(o.id, o.create->kind, o.create->version).run();
        current = s.bump.bind(o.id, o.create->host).step() && s.bump.i64(0) == o.epoch;
        s.bump.run();
      }
    } else {
      current = s.epoch.bind(o.id).step() && s.epoch.i64(0) == o.epoch;
      s.epoch.reset();
    }
    if (!current) {
      report.fenced.push_back(o.id);
      continue;
    }
    for (const auto& [k, v] : o.writes) apply(o.id, k, v);
    for (const auto& [name, t] : o.reminders) set_reminder(o.id, name, t);
  }
  txn.commit();
  return report;
}

ReminderClaim SqliteEngine::claim_reminder(const Reminder& r, std::string_view host, std::int64_t now_ms,
                                           std::int64_t until_ms) {
  Statements& s = *st_;
  // No fsync of its own (spec/persistence.md 5.6): a lost claim lets another
  // host run the reminder, which at least once allows.
  Durability lazy(*this, false);
  ReminderClaim c;
  s.claim.bind(host, until_ms, r.id, r.name, r.times.due_ms, r.times.period_ms, now_ms).run();
  if (sqlite3_changes(db_) == 1) {
    c.claimed = true;
    c.stored = r.times;
    return c;
  }
  // Refused: what stands in the way, as it is now.
  if (!s.find_claim.bind(r.id, r.name).step()) return c;
  c.stored = ReminderTimes{s.find_claim.i64(0), s.find_claim.i64(1)};
  c.held_until_ms = s.find_claim.i64(2);
  s.find_claim.reset();
  return c;
}

void SqliteEngine::set_reminder(const std::string& id, const std::string& name, const std::optional<ReminderTimes>& t) {
  if (t)
    st_->remind.bind(id, name, t->due_ms, t->period_ms).run();
  else
    st_->forget.bind(id, name).run();
}

std::optional<ReminderTimes> SqliteEngine::reminder(const std::string& id, const std::string& name) {
  Stmt& q = st_->find_reminder;
  if (!q.bind(id, name).step()) return std::nullopt;
  ReminderTimes t{q.i64(0), q.i64(1)};
  q.reset();
  return t;
}

std::vector<Reminder> SqliteEngine::reminders(std::string_view kind) {
  // Ids of the kind are "<kind>/..."; '0' is the byte after '/'.
  std::string from = std::string(kind) + "/";
  std::string to = std::string(kind) + "0";
  Stmt& q = st_->reminders;
  q.bind(from, to);
  std::vector<Reminder> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), {q.i64(2), q.i64(3)}});
  return out;
}

void SqliteEngine::apply(const std::string& id, std::string_view k, const std::optional<Bytes>& v) {
  if (v)
    st_->put.bind(id, Blob{k}, *v).run();
  else
    st_->erase.bind(id, Blob{k}).run();
}

bool SqliteEngine::migrate(const MigrationWrites& m) {
  Statements& s = *st_;
  if (broken_)
    throw_error(ErrorKind::failed,
                fmt::format("persist store {}: cannot restore synchronous=FULL; refusing to commit", file_.string()));
  Txn txn(s.begin, s.commit, s.rollback);
  // spec/persistence.md 6: fenced like a commit, and only from the version
  // the migration read.
  bool current = s.epoch.bind(m.id).step() && s.epoch.i64(0) == m.epoch;
  s.epoch.reset();
  bool at_from = s.find_obj.bind(m.id).step() && s.find_obj.i64(1) == m.from;
  s.find_obj.reset();
  if (!current || !at_from) return false;
  s.drop_pre_kv.bind(m.id).run();
  s.set_pre.bind(m.id, m.from).run();
  for (const auto& [k, v] : m.preimage) {
    if (v)
      s.put_pre_kv.bind(m.id, Blob{k}, *v).run();
    else
      s.put_pre_kv.bind(m.id, Blob{k}, nullptr).run();
  }
  // The reminders' pre-image: their settings before the steps, read here,
  // inside the transaction that replaces them.
  s.drop_pre_reminders.bind(m.id).run();
  for (const auto& [name, t] : m.reminders) {
    if (std::optional<ReminderTimes> was = reminder(m.id, name))
      s.put_pre_reminder.bind(m.id, name, was->due_ms, was->period_ms).run();
    else
      s.put_pre_reminder.bind(m.id, name, nullptr, nullptr).run();
    set_reminder(m.id, name, t);
  }
  for (const auto& [k, v] : m.writes) apply(m.id, k, v);
  s.set_version.bind(m.to, m.id).run();
  txn.commit();
  return true;
}

std::optional<RolledBack> SqliteEngine::rollback(const std::string& id) {
  Statements& s = *st_;
  if (broken_)
    throw_error(ErrorKind::failed,
                fmt::format("persist store {}: cannot restore synchronous=FULL; refusing to commit", file_.string()));
  Txn txn(s.begin, s.commit, s.rollback);
  if (!s.find_pre.bind(id).step()) return std::nullopt;
  RolledBack r{s.find_pre.i64(0), {}};
  s.find_pre.reset();
  std::vector<std::pair<std::string, std::optional<Bytes>>> pre;
  for (s.pre_kv.bind(id); s.pre_kv.step();) {
    bool null = sqlite3_column_type(s.pre_kv.raw(), 1) == SQLITE_NULL;
    pre.emplace_back(s.pre_kv.text(0), null ? std::nullopt : std::optional<Bytes>(s.pre_kv.bytes(1)));
  }
  for (const auto& [k, v] : pre) {
    if (std::optional<Bytes> now = get(id, k); now && now != v) r.lost.push_back(k);
    apply(id, k, v);
  }
  std::vector<std::pair<std::string, std::optional<ReminderTimes>>> reminders;
  for (s.pre_reminders.bind(id); s.pre_reminders.step();) {
    bool absent = sqlite3_column_type(s.pre_reminders.raw(), 1) == SQLITE_NULL;
    reminders.emplace_back(s.pre_reminders.text(0), absent ? std::nullopt
                                                           : std::optional<ReminderTimes>(ReminderTimes{
                                                                 s.pre_reminders.i64(1), s.pre_reminders.i64(2)}));
  }
  for (const auto& [name, t] : reminders) {
    if (std::optional<ReminderTimes> now = reminder(id, name); now && now != t) r.lost_reminders.push_back(name);
    set_reminder(id, name, t);
  }
  r.reminders = std::move(reminders);
  s.set_version.bind(r.version, id).run();
  s.drop_pre.bind(id).run();
  s.drop_pre_kv.bind(id).run();
  s.drop_pre_reminders.bind(id).run();
  s.fence.bind(id).run();
  txn.commit();
  return r;
}

std::optional<StoredObject> SqliteEngine::stored(const std::string& id) {
  Statements& s = *st_;
  if (!s.find_obj.bind(id).step()) return std::nullopt;
  StoredObject o{s.find_obj.text(0), s.find_obj.i64(1), std::nullopt};
  s.find_obj.reset();
  if (s.find_pre.bind(id).step()) {
    o.preimage_from = s.find_pre.i64(0);
    s.find_pre.reset();
  }
  return o;
}

std::vector<std::string> SqliteEngine::migrated(std::string_view kind, std::int64_t version) {
  Stmt& q = st_->migrated;
  q.bind(kind, version);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

std::int64_t SqliteEngine::epoch(const std::string& id) {
  Stmt& q = st_->epoch;
  if (!q.bind(id).step()) return 0;
  std::int64_t e = q.i64(0);
  q.reset();
  return e;
}

}  // namespace vatic::persist
