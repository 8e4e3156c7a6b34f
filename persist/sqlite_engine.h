// SqliteEngine: the embedded Engine, one SQLite file (spec/persistence.md,
// section 5). WAL journal with synchronous=FULL: a commit that returned is in
// the fsync'd log, so it survives SIGKILL and power loss. One transaction per
// commit batch (group commit: one fsync for every call the batch carries).
// Activation and deactivation records are written without an fsync of their
// own: the next commit's fsync covers them (WAL order).
// The schema is the one a PostgreSQL engine will use: pobj (kind, version),
// pkv (the key-value pairs, WITHOUT ROWID), activation (host and epoch).
//
// Several hosts (vats, processes) may open one file; their activations fence
// each other out by epoch, and SQLite's locks (with a busy timeout) order
// their transactions.
//
// Threads: the thread of the host that uses it (one connection each).
#pragma once

#include <filesystem>
#include <memory>

#include "persist/engine.h"

struct sqlite3;

namespace vatic::persist {

class SqliteEngine final : public Engine {
 public:
  // Opens or creates the file. Throws VatError(failed) naming the file when
  // it cannot be opened, is not a vatic persist store, or has another schema.
  static std::unique_ptr<SqliteEngine> open(const std::filesystem::path& file);
  ~SqliteEngine() override;

  Result<Grant> activate(const std::string& id, std::string_view kind, std::int64_t version,
                         std::string_view host) override;
  void deactivate(const std::string& id, std::int64_t epoch) override;
  std::optional<Bytes> get(const std::string& id, std::string_view key) override;
  std::vector<std::pair<std::string, Bytes>> scan(const std::string& id, std::string_view prefix) override;
  CommitReport commit(std::span<const ObjectWrites> batch) override;
  std::vector<Reminder> reminders(std::string_view kind) override;
  ReminderClaim claim_reminder(const Reminder& r, std::string_view host, std::int64_t now_ms,
                               std::int64_t until_ms) override;
  std::int64_t epoch(const std::string& id) override;
  bool migrate(const MigrationWrites& m) override;
  std::optional<RolledBack> rollback(const std::string& id) override;
  std::optional<StoredObject> stored(const std::string& id) override;
  std::vector<std::string> migrated(std::string_view kind, std::int64_t version) override;

 private:
  struct Statements;
  class Durability;
  SqliteEngine(sqlite3* db, std::filesystem::path file);
  void exec(const char* sql);
  // Schema 4: the reminders' claim columns, added to an older file's table.
  void add_claim_columns();
  // A put, or an erase when `v` is empty, inside the caller's transaction.
  void apply(const std::string& id, std::string_view k, const std::optional<Bytes>& v);
  // Sets, or forgets when `t` is empty, a reminder inside the caller's transaction.
  void set_reminder(const std::string& id, const std::string& name, const std::optional<ReminderTimes>& t);
  std::optional<ReminderTimes> reminder(const std::string& id, const std::string& name);

  sqlite3* db_;
  std::filesystem::path file_;
  std::unique_ptr<Statements> st_;
  bool broken_ = false;  // synchronous=FULL could not be restored
};

}  // namespace vatic::persist
