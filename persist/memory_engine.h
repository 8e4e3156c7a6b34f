// MemoryEngine: an Engine without a file, for tests and the simulation
// (spec/persistence.md, section 5). Same semantics as the SQLite engine: it
// holds only committed state, so a Host dropped before its commit turn ran (a
// simulated crash) loses exactly its uncommitted writes, and the state of the
// objects survives for the next Host given the same engine (a restart).
//
// Faults: fail_commits(n) makes the next n commits throw as an I/O error
// would, committing nothing.
//
// Threads: any; one mutex (hosts of several vats may share it).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "persist/engine.h"

namespace vatic::persist {

class MemoryEngine final : public Engine {
 public:
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

  void fail_commits(int n);
  // Committed transactions so far (each one would be an fsync on disk).
  std::int64_t commits() const;

 private:
  // A reminder as stored: its setting and who claimed it until when (spec 8).
  struct StoredReminder {
    ReminderTimes times;
    std::string claim_host;  // empty: unclaimed
    std::int64_t claim_until = 0;
  };
  struct Object {
    std::string kind;
    std::int64_t version = 0;
    std::int64_t epoch = 0;
    std::string host;  // empty: not active
    std::map<std::string, Bytes, std::less<>> kv;
    std::map<std::string, StoredReminder, std::less<>> reminders;
    // spec/persistence.md 6: the version migrated from, and the values before.
    std::optional<std::int64_t> preimage_from;
    std::map<std::string, std::optional<Bytes>, std::less<>> preimage;
    std::map<std::string, std::optional<ReminderTimes>, std::less<>> reminder_preimage;
  };
  mutable std::mutex mu_;
  std::map<std::string, Object, std::less<>> objects_;
  int fail_commits_ = 0;
  std::int64_t commits_ = 0;
};

}  // namespace vatic::persist
