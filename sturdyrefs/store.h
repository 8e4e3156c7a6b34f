// Store: a vat's durable state, the embedded default being one SQLite file in a
// store directory (created 0700, the database 0600). It holds what a restarted
// vat needs to serve the same sturdy refs: its identity seed, the master key
// every object key derives from, the objects behind sturdy refs (a kind and
// the parameters that re-create them), and revocations (of objects, and of
// delegation branches by revocation id). Tags and object keys are never
// stored: they derive from the master key (spec/token.md).
//
// Threads: a Store belongs to the vat that opened it; SQLite serialises access
// from other processes (a busy timeout covers a second process on the same
// store, such as `vatic id` beside a running `vatic serve`).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "caps/token.h"
#include "captp/identity.h"
#include "vat/clock.h"
#include "vat/secret.h"

struct sqlite3;

namespace vatic::sturdyrefs {

using ObjectKeyId = caps::ObjectId;
using BranchId = caps::RevocationId;

struct StoredObject {
  ObjectKeyId id{};
  std::string kind;          // which reviver re-creates it ("fs.dir", "admin", ...)
  std::string params;        // the reviver's parameters, opaque here
  std::string name;          // a stable name for objects a program looks up again ("root"), or empty
  std::int64_t created = 0;  // unix seconds
  bool revoked = false;
};

// The lock file `vatic serve` holds in its store (tools/store_lock.h). It is
// not part of the store: open() ignores it when deciding whether a store is
// empty.
inline constexpr const char* kStoreLockFile = "serve.lock";

// Whether open() may create a new identity (the database with its identity
// seed and master key) where there is none.
enum class Create {
  // Only in an empty or missing directory (the default): a directory holding
  // anything else (admin.ref, a database's -wal file, an empty vat.db) shows
  // that an identity was lost, and open() refuses, naming what it found.
  if_empty,
  // Also in a store that held one (`--init`): the remains of the old database
  // are renamed aside (vat.db.lost-<time>, ...), never deleted. An existing
  // identity is never replaced.
  explicitly,
  // Never: only an existing identity is opened.
  never,
};

class Store {
 public:
  // Opens the store in `dir`, creating an identity as `create` allows. The
  // creation is all or nothing: a failure leaves no database behind. Throws
  // VatError(failed) with a precise reason: not a directory, readable by
  // other users, an identity lost, a database that is not ours or is
  // corrupt, a full disk ("no space left on device"). `clock` stamps what is
  // created and revoked (unix time); it must outlive the store.
  static std::unique_ptr<Store> open(const std::filesystem::path& dir, Create create = Create::if_empty,
                                     const Clock& clock = steady_clock());
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }

  // The vat's identity (made when the store was created).
  captp::Identity identity();
  // The key object keys derive from (made with the identity; generated here
  // for stores made before that, as long as no token was issued).
  caps::MasterKey master_key();

  // Records a new object with a fresh random id.
  StoredObject add_object(const std::string& kind, const std::string& params, const std::string& name = "");
  std::optional<StoredObject> find(const ObjectKeyId& id);
  // The live (not revoked) object named `name` with this kind and params.
  std::optional<StoredObject> find_named(const std::string& name, const std::string& kind, const std::string& params);
  std::vector<StoredObject> objects();

  void revoke_object(const ObjectKeyId& id);
  // Records a revoked branch of `object`'s delegation tree.
  void revoke_branch(const ObjectKeyId& object, const BranchId& id);
  bool branch_revoked(const BranchId& id);
  // Objects with at least one revoked branch: only their tokens need the
  // revocation ids computed on redeem (a hash per caveat saved for the rest).
  std::set<ObjectKeyId> objects_with_revoked_branches();
  // SQLite's PRAGMA data_version: it changes when another connection (another
  // process on the same store) commits, so a caller can tell when what it read
  // earlier may be stale.
  std::int64_t data_version();

 private:
  Store(std::filesystem::path dir, sqlite3* db, const Clock& clock);
  std::optional<std::vector<std::uint8_t>> get_secret(const char* name);
  void put_secret(const char* name, const std::uint8_t* data, std::size_t n);

  std::filesystem::path dir_;
  sqlite3* db_;
  const Clock& clock_;
};

}  // namespace vatic::sturdyrefs
