// Migration: the transaction in which a kind's `migrate` steps bring a stored
// object up to the version of the running code (spec/persistence.md 6). The
// host runs the steps when it activates an object stored by an older version,
// one version at a time (`from` to `from + 1`), all in one transaction that
// it commits with the new version before the object is made: either every
// step's writes and the new version are stored, or nothing is.
//
//   host.register_kind<AccountV2>({
//       .name = "account", .version = 2,
//       .migrate = [](std::int64_t from, persist::Migration& txn) {
//         if (from == 1)  // v1 kept whole units, v2 keeps cents
//           txn.put("cents", txn.get<std::int64_t>("balance").value_or(0) * 100), txn.erase("balance");
//       }});
//
// Reads see the steps' own writes first, then the committed state. The host
// keeps the committed value of every key the steps write (the pre-image), so
// that it can roll the object back to the old version and code if the new
// version fails (spec/persistence.md 6). A step may also set or forget the
// object's reminders (a version that adds a periodic job starts it here, since
// on_activate cannot write): the settings they replace are kept in the
// pre-image too, and a rollback restores them. A step that throws fails the
// activation and leaves the stored object untouched.
//
// Threads: the host's vat, inside the activation; a Migration does not
// outlive the `migrate` call it is passed to.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "persist/engine.h"
#include "vat/codec.h"

namespace vatic::persist {

class Migration {
 public:
  Migration(Engine& engine, std::string id, std::int64_t from) : engine_(&engine), id_(std::move(id)), from_(from) {}
  Migration(const Migration&) = delete;
  Migration& operator=(const Migration&) = delete;

  // "<kind>/<key>" of the object being migrated.
  const std::string& id() const noexcept { return id_; }
  // The version the current step migrates from (the step brings it to from() + 1).
  std::int64_t from() const noexcept { return from_; }

  template <class T>
  std::optional<T> get(std::string_view key) const {
    std::optional<Value> v = get_value(key);
    if (!v) return std::nullopt;
    try {
      return Codec<T>::decode(*v);
    } catch (const VatError& e) {
      throw_error(ErrorKind::failed, fmt::format("migrating {}: kv key {:?}: {}", id_, key, e.error().reason));
    }
  }
  template <class T>
  void put(std::string_view key, const T& value) {
    put_value(key, Codec<T>::encode(value));
  }
  void erase(std::string_view key);
  // Every pair whose key starts with `prefix`, in bytewise key order, untyped.
  std::vector<std::pair<std::string, Value>> scan_values(std::string_view prefix) const;
  std::optional<Value> get_value(std::string_view key) const;
  void put_value(std::string_view key, const Value& value);
  // spec/persistence.md 8, as Persistent::remind and forget: committed with
  // the migration; the same ranges (a setting out of range throws `failed`).
  void remind(std::string_view name, std::int64_t due_unix_ms, std::int64_t period_ms = 0);
  void forget(std::string_view name);

  // --- The host's side.
  void set_from(std::int64_t from) noexcept { from_ = from; }
  // What the steps wrote, and the committed values before them.
  MigrationWrites take(std::int64_t epoch, std::int64_t from, std::int64_t to);

 private:
  void write(std::string_view key, std::optional<Bytes> v);

  Engine* engine_;
  std::string id_;
  std::int64_t from_;
  std::map<std::string, std::optional<Bytes>, std::less<>> writes_;
  std::map<std::string, std::optional<Bytes>, std::less<>> preimage_;
  std::map<std::string, std::optional<ReminderTimes>, std::less<>> reminders_;
};

}  // namespace vatic::persist
