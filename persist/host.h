// Host: the persistent objects of one vat, on one engine (spec/persistence.md).
// It registers kinds (name and version; several versions of one kind, the
// highest current, spec section 6), hands out references to objects by key
// or fresh id, activates an object when a message reaches it (migrating it
// from an older version first), passivates it after the idle time, and
// commits the writes of the calls that finished in one transaction per group
// (a commit turn the first pending write schedules), releasing their answers
// only after that commit. It also runs the objects' reminders (durable
// timers) when they are due (with several hosts on one store, only the one
// that claims a due reminder in the store runs it, spec 8), and supervises activations: one that fails
// restarts from committed state, within the kind's intensity; a new version
// that fails beyond it is rolled back to the older code (spec 6 and 10).
//
//   auto engine = std::shared_ptr<Engine>(SqliteEngine::open(dir / "objects.db"));
//   persist::Host host(vat, engine, {.name = "vat-a"});
//   host.register_kind<Account>({.name = "account", .version = 1});
//   host.register_kind<AccountV2>({.name = "account", .version = 2, .migrate = migrate_account});
//   Ref<Account> alice = host.object<Account>("alice");   // created on first use
//   Ref<Account> fresh = host.create<Account>();          // a fresh random key
//
// Ownership: the Host owns its slots' table and the activations; references
// to slots outlive the host (messages to them then break with `disconnected`).
// Destroying the host commits what is pending and passivates every object.
//
// Threads: the vat's thread (or the thread driving a vat that runs nowhere
// else), for everything including construction and destruction.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>

#include "persist/engine.h"
#include "persist/migration.h"
#include "persist/persistent.h"
#include "vat/vat.h"

namespace vatic::persist {

namespace internal {
struct HostState;
}

struct KindSpec {
  std::string name;          // text without '/', 1 to 64 bytes
  std::int64_t version = 1;  // >= 1; rises with the code
  // spec/persistence.md 6: brings an object stored at version `from` to
  // `from + 1` (called once per version, oldest first, for every `from`
  // below `version`). Needed to activate objects stored by older versions.
  std::function<void(std::int64_t from, Migration& txn)> migrate;
  // Supervision (spec/persistence.md 6 and 10), the supervisor's rule: more
  // than `intensity` failed activations within `period` rolls an upgraded
  // version back (per version of the kind), and pauses the restarts of one
  // object for `period` (per object).
  int intensity = 3;
  Duration period = std::chrono::seconds(5);
};

struct HostOptions {
  // Recorded as the active host of each activation (a vat id, a host name).
  std::string name = "local";
  // An activation unused this long is passivated (spec/persistence.md, 2).
  Duration idle = std::chrono::minutes(5);
  // How long the commit turn waits after the first pending write (group
  // commit, spec 4): zero commits in the next turn; longer gathers the calls
  // of that window into one transaction, and their answers wait as long. The
  // simulation draws it, so that crashes fall between an answered call and
  // its commit.
  Duration commit_delay = Duration::zero();
  // How long a claim on a due reminder keeps other hosts of the same store
  // from running it (spec/persistence.md 8): longer than its call takes to
  // commit, or another host may run it too; after a crash, this long before
  // another host (or this one restarted) runs it again.
  Duration reminder_lease = std::chrono::seconds(30);
};

struct HostStats {
  std::int64_t activations = 0;   // made so far
  std::int64_t passivations = 0;  // idle ones released
  std::int64_t active = 0;        // alive now
  std::int64_t commits = 0;       // store transactions
  std::int64_t rolled_back = 0;   // calls that broke with writes discarded
  std::int64_t fenced = 0;        // activations whose writes a newer one refused
  std::int64_t commit_failures = 0;
  std::int64_t migrations = 0;          // objects migrated to a newer version (spec 6)
  std::int64_t rollbacks = 0;           // objects rolled back to their pre-image (spec 6)
  std::int64_t failed_activations = 0;  // migrations, on_activate or crash() that failed (spec 10)
};

class Host {
 public:
  Host(Vat& vat, std::shared_ptr<Engine> engine, HostOptions options = {});
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  template <class T>
  void register_kind(KindSpec spec) {
    static_assert(std::is_base_of_v<Persistent, T>, "register_kind<T>: T must derive from persist::Persistent");
    add_kind(typeid(T), std::move(spec), [](Vat& v) { return detail::RefAccess::handler(v.make<T>()); });
  }

  // The object of kind T under `key`, created on its first activation.
  template <class T>
  Ref<T> object(std::string_view key) {
    return detail::RefAccess::make<T>(slot_for(typeid(T), key));
  }

  // A new object of kind T under a fresh key (16 random bytes, hex).
  // Nobody else can know the key before this host hands out a reference, so
  // the object is activated without asking the store and made by its first
  // commit (spec/persistence.md 5.1, "Fresh objects").
  template <class T>
  Ref<T> create() {
    return detail::RefAccess::make<T>(fresh_slot_for(typeid(T)));
  }

  // The object with this id ("<kind>/<key>", spec/persistence.md 1) of a
  // registered kind, created on its first activation. Untyped, for whoever
  // keeps ids instead of typed references: a sturdy ref's revival
  // (sturdyrefs/persist_refs.h). Throws VatError(failed) for an id that is
  // malformed or of a kind this host does not know.
  Ref<Object> object_by_id(std::string_view id);

  // The id of the persistent object `ref` designates, following resolved
  // promises, if it is one of this host's; nullopt for anything else (a
  // plain object, a remote reference, another host's object).
  std::optional<std::string> id_of(const Ref<Object>& ref) const;

  // Commits pending writes now (the commit turn does it on its own).
  void flush();
  HostStats stats() const;

  // What `vatic inspect ADMIN-REF persist` shows of this host (spec/admin.md,
  // `persist`): its counts, its kinds with every registered version, and its
  // activations (at most 1000 listed).
  Value describe() const;
  // The same as a function that may outlive the host (it then answers a
  // `persist` record with `closed` true), for the admin object.
  std::function<Value()> describer() const;

 private:
  void add_kind(std::type_index type, KindSpec spec, std::function<detail::HandlerPtr(Vat&)> make);
  detail::HandlerPtr slot_for(std::type_index type, std::string_view key);
  detail::HandlerPtr fresh_slot_for(std::type_index type);
  static std::string fresh_key();

  std::shared_ptr<internal::HostState> s_;
};

}  // namespace vatic::persist
