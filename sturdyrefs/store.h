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

class Store {
 public:
  // Opens (creating if missing) the store in `dir`. Throws VatError(failed)
  // with a precise reason: not a directory, readable by other users, a
  // database that is not ours or is corrupt.
  static std::unique_ptr<Store> open(const std::filesystem::path& dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }

  // The vat's identity, generated and saved on first use.
  captp::Identity identity();
  // The key object keys derive from, generated and saved on first use.
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
  Store(std::filesystem::path dir, sqlite3* db);
  std::optional<std::vector<std::uint8_t>> get_secret(const char* name);
  void put_secret(const char* name, const std::uint8_t* data, std::size_t n);

  std::filesystem::path dir_;
  sqlite3* db_;
};

}  // namespace vatic::sturdyrefs
