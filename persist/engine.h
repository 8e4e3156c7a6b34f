// Engine: the store behind a persist::Host (spec/persistence.md, section 5).
// It holds only committed state: objects (kind and version), their key-value
// pairs, and one activation epoch per object. Everything a host has not yet
// committed lives in the host, so dropping a host (a crash) loses exactly its
// uncommitted writes.
//
// The interface is small on purpose, so that the embedded SQLite engine, the
// in-memory engine (tests, simulation) and a later PostgreSQL engine are
// interchangeable: activation bumps an epoch, and a commit carries each
// object's epoch as a fence that the store checks inside its transaction, so a
// host whose activation was superseded can never write.
//
// Threads: an engine is used by one host, on its vat's thread; the memory
// engine may be shared by hosts on several threads (it locks). Failures of
// the store itself (I/O, full disk) throw VatError(failed); refusals about
// the object (wrong kind, newer version) are Results.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vat/result.h"
#include "vat/value.h"

namespace vatic::persist {

// What activate() grants: the new activation's epoch (its fence), whether
// the object was created by this activation, and the version that stored it
// (at most the version asked for; lower when the object awaits a migration,
// spec/persistence.md 6).
struct Grant {
  std::int64_t epoch = 0;
  bool created = false;
  std::int64_t version = 0;
};

// When a reminder is due (unix ms, wall clock: it outlives the process) and
// how often it repeats (0: once). spec/persistence.md 8.
struct ReminderTimes {
  std::int64_t due_ms = 0;
  std::int64_t period_ms = 0;
  friend bool operator==(const ReminderTimes&, const ReminderTimes&) = default;
};

struct Reminder {
  std::string id;
  std::string name;
  ReminderTimes times;
};

// What a migration commits (spec/persistence.md 6): the object moves from
// version `from` to `to` with `writes`, and `preimage` holds the committed
// value before the migration of every key it writes (none: the key was
// absent). Replaces any older pre-image of the object. `reminders` are the
// settings the steps made (none: forgotten), by name; the engine keeps the
// settings they replace in the pre-image itself, read inside the migration's
// transaction.
struct MigrationWrites {
  std::string id;
  std::int64_t epoch = 0;  // the fence, as for a commit
  std::int64_t from = 0;
  std::int64_t to = 0;
  std::vector<std::pair<std::string, std::optional<Bytes>>> writes;
  std::vector<std::pair<std::string, std::optional<Bytes>>> preimage;
  std::vector<std::pair<std::string, std::optional<ReminderTimes>>> reminders;
};

// What rollback() did: the version the object is stored at now, and the keys
// whose value it replaced or erased (what the newer version, its migration
// included, had stored there is lost). `reminders`: the setting it restored
// for each reminder the migration had set or forgotten (none: the reminder
// is gone), for the host to arm or forget; `lost_reminders`: those of them
// whose setting it replaced or erased.
struct RolledBack {
  std::int64_t version = 0;
  std::vector<std::string> lost;
  std::vector<std::pair<std::string, std::optional<ReminderTimes>>> reminders;
  std::vector<std::string> lost_reminders;
};

// An object as stored: kind, version and, if it keeps a pre-image, the
// version it was migrated from.
struct StoredObject {
  std::string kind;
  std::int64_t version = 0;
  std::optional<std::int64_t> preimage_from;
};

// What claim_reminder() found (spec/persistence.md 8): whether this host now
// holds the claim on the reminder's setting; if not, the setting stored now
// (none: the reminder is gone) and, when that is still the setting asked
// about, until when (unix ms) another host's claim on it lasts.
struct ReminderClaim {
  bool claimed = false;
  std::optional<ReminderTimes> stored;
  std::int64_t held_until_ms = 0;
};

// spec/persistence.md 5.1, "Fresh objects": an object a host made under a
// fresh random key (Host::create) is activated without the store, at epoch 1;
// its first commit creates it, and is refused (fenced) if the id exists by
// then. Saves the activation's own store transaction on every create.
struct Creation {
  std::string kind;
  std::int64_t version = 0;
  std::string host;
};

// One object's part of a commit batch. A write with no value is an erase.
struct ObjectWrites {
  std::string id;
  std::int64_t epoch = 0;  // the fence: refused unless still the object's epoch
  std::vector<std::pair<std::string, std::optional<Bytes>>> writes;
  std::vector<std::pair<std::string, std::optional<ReminderTimes>>> reminders;  // by name
  std::optional<Creation> create;  // a fresh object's first commit: made here, at epoch 1
};

// What a commit did: the ids whose writes were refused by their fence (the
// rest of the batch is committed).
struct CommitReport {
  std::vector<std::string> fenced;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // spec/persistence.md 5.1: creates `id` if absent (at `version`), refuses
  // another kind or a newer stored version, then increments the object's
  // epoch and records `host` as its active one. An older stored version is
  // granted and reported in Grant::version: the host migrates it.
  virtual Result<Grant> activate(const std::string& id, std::string_view kind, std::int64_t version,
                                 std::string_view host) = 0;

  // 5.4: the activation of `epoch` ended (a no-op if a newer one exists).
  virtual void deactivate(const std::string& id, std::int64_t epoch) = 0;

  // 5.2: committed state.
  virtual std::optional<Bytes> get(const std::string& id, std::string_view key) = 0;
  // Every pair of `id` whose key starts with `prefix`, in key order (bytewise).
  virtual std::vector<std::pair<std::string, Bytes>> scan(const std::string& id, std::string_view prefix) = 0;

  // 5.3: one transaction, durable when it returns.
  virtual CommitReport commit(std::span<const ObjectWrites> batch) = 0;

  // spec/persistence.md 8, several hosts on one store: claims `r` for `host`
  // until `until_ms` if its stored setting is still r.times and it is
  // unclaimed, claimed by `host`, or its claim ended by `now_ms`. One
  // conditional update (a PostgreSQL engine returns the row as it was in the
  // same statement); committing a reminder's setting clears its claim.
  virtual ReminderClaim claim_reminder(const Reminder& r, std::string_view host, std::int64_t now_ms,
                                       std::int64_t until_ms) = 0;

  // Every reminder of the objects of `kind` (ids "<kind>/...").
  virtual std::vector<Reminder> reminders(std::string_view kind) = 0;

  // The object's current epoch, or 0 if it was never activated.
  virtual std::int64_t epoch(const std::string& id) = 0;

  // spec/persistence.md 6: one transaction, durable when it returns: checks
  // the fence and that the object is still stored at `m.from`, applies the
  // writes and reminder settings, stores the pre-image (the given values and
  // the reminder settings as they were; replacing an older one) and sets the
  // version to `m.to`. False (nothing written) if the fence or the version
  // check failed.
  virtual bool migrate(const MigrationWrites& m) = 0;

  // spec/persistence.md 6: one transaction, durable when it returns:
  // restores the pre-image's values and reminders, sets the version back to the one it was
  // migrated from, drops the pre-image and increments the epoch (fencing out
  // any activation of the newer version). nullopt if the object keeps no
  // pre-image.
  virtual std::optional<RolledBack> rollback(const std::string& id) = 0;

  // The ids of the objects of `kind` stored at `version` that keep a
  // pre-image (those a rollback of that version concerns).
  virtual std::vector<std::string> migrated(std::string_view kind, std::int64_t version) = 0;

  // The object as stored, or nullopt if absent.
  virtual std::optional<StoredObject> stored(const std::string& id) = 0;
};

}  // namespace vatic::persist
