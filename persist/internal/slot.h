// Slot: the handler behind every reference to a persistent object, and the
// transactions of its calls (spec/persistence.md, sections 2 to 4). It
// outlives activations: a message that finds no activation activates the
// object; each message is re-sent to the activation as a call by name whose
// result the slot holds (the call), so that the caller's answer is settled by
// the slot, after the commit (the output gate), or broken with the call.
//
// CallTxn: one call in progress: the call's own result, the caller's answer
// and the call's write set, found through vatic::detail::current_call() in
// the call's turns (its method and the resumptions of its Task).
//
// HostState: what a Host and its slots share: the engine, the kinds (each
// name with every version registered), the slot table, the slots with
// pending writes and whether a commit turn is queued.
//
// Threads: the host's vat.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include "persist/host.h"
#include "vat/log.h"
#include "vat/message.h"
#include "vat/output_gate.h"
#include "vat/timer.h"

namespace vatic::persist::internal {

struct KindFamily;

// One version of a kind: its code and its supervision rule.
struct KindInfo {
  std::string name;
  std::int64_t version;
  std::function<detail::HandlerPtr(Vat&)> make;
  std::function<void(std::int64_t, Migration&)> migrate;
  int intensity = 3;
  Duration period{};
  KindFamily* family = nullptr;
  // spec/persistence.md 6: failed activations of this version, recent first
  // trimmed to `period`; more than `intensity` withdraws it.
  std::deque<TimePoint> failures;
  bool withdrawn = false;  // rolled back on this host: no longer activated
  std::int64_t activations = 0;
  std::int64_t failed = 0;
};

// Every version of one kind registered with the host. The current version is
// the highest one not withdrawn: objects are activated (and migrated) at it.
struct KindFamily {
  std::string name;
  std::map<std::int64_t, std::unique_ptr<KindInfo>> versions;
  KindInfo* current() const;
  bool any_withdrawn() const;
  // The highest version below `v` that is not withdrawn, or null.
  KindInfo* below(std::int64_t v) const;
};

using WriteSet = std::map<std::string, std::optional<Bytes>, std::less<>>;
using ReminderSet = std::map<std::string, std::optional<ReminderTimes>, std::less<>>;

class Slot;

// What a call wrote and its reminder bookkeeping, made on first use: most
// calls of a warm object only read, and a small CallTxn is what keeps many
// calls in flight inside the cache.
struct CallEffects {
  WriteSet writes;
  ReminderSet reminders;
  std::optional<Reminder> fired;     // set for an on_reminder call: the reminder as it fired
  std::optional<std::string> crash;  // the call crashed its activation (Persistent::crash), why
};

// It is its call's output gate (vat/output_gate.h): what the call sends or
// resolves is held here, found from the call's promise without a table, and
// the promise tells it when the call settles (no listener, no lookup).
// Owned by its slot's list of open calls until then.
struct CallTxn final : public detail::OutputGate, public detail::Pooled {
  using Pooled::operator new;
  using Pooled::operator delete;
  explicit CallTxn(Slot* s);
  void hold(detail::PromiseBase&, std::unique_ptr<detail::HeldEffect> e) override { outbox.push(std::move(e)); }
  // spec/persistence.md 4: a call that awaits lets out what it sent so far.
  void turn_ended(detail::PromiseBase&) override;
  void settled(detail::PromiseBase&) override;
  const void* owner() const noexcept override { return slot.get(); }

  CallEffects& effects() {
    if (!fx) fx = std::make_unique<CallEffects>();
    return *fx;
  }
  bool wrote() const noexcept { return fx && (!fx->writes.empty() || !fx->reminders.empty()); }
  const Reminder* fired() const noexcept { return fx && fx->fired ? &*fx->fired : nullptr; }

  detail::Ptr<Slot> slot;   // kept while the call is open, as a listener would
  CallTxn* prev = nullptr;  // the slot's open calls
  CallTxn* next = nullptr;
  detail::Ptr<detail::PromiseBase> call;    // the result the activation settles
  detail::Ptr<detail::PromiseBase> answer;  // the caller's; null for a send without one
  std::uint64_t generation = 0;             // of the activation that runs it
  // spec/persistence.md 4, output gate: what the call sent and resolved, in
  // order, leaving with its answer (or never, if the call breaks).
  detail::HeldQueue outbox;
  std::unique_ptr<CallEffects> fx;
};

struct HostState {
  Vat* vat = nullptr;
  std::shared_ptr<Engine> engine;
  HostOptions options;
  std::map<std::string, std::unique_ptr<KindFamily>, std::less<>> kinds;
  std::map<std::type_index, KindInfo*> by_type;
  std::map<std::string, detail::Ptr<Slot>, std::less<>> slots;  // by id
  std::vector<detail::Ptr<Slot>> dirty;                         // with pending writes
  bool flush_queued = false;
  bool closed = false;
  HostStats stats;
  std::weak_ptr<HostState> self;
  // Who claims reminders in the store (spec/persistence.md 8): the host's
  // name and a random incarnation, so that two hosts, or one restarted, differ.
  std::string claimant;

  // A slot has pending writes: queue the commit turn (group commit).
  void mark_dirty(Slot& s);
  // spec/persistence.md 4: one transaction for every pending write.
  void flush();
  // An activation's idle timer fired.
  void on_idle(Slot* s);

  // The slot of `key` in `kind`, made on first use.
  Slot& slot(const KindFamily* kind, std::string_view key);

  // spec/persistence.md 6 and 10: an activation of `s` at `version` failed
  // (a migration step, on_activate, or crash()). Counts it against the
  // object and the version, pauses the object's restarts or withdraws the
  // version beyond the intensity.
  void activation_failed(Slot& s, KindInfo& version, const Error& why);
  // Withdraws `version`: the objects migrated to it go back to their
  // pre-image and the older code (a turn of its own, queued by
  // activation_failed).
  void roll_back(KindInfo& version);
  // Commits what is pending, then ends every activation of `kind` that does
  // not run its current version: their calls in flight break with `why`.
  void restart_stale(const KindFamily& kind, const Error& why);
  // Restores one object's pre-image (spec/persistence.md 6) and logs what was lost.
  void roll_back_object(const std::string& id, std::int64_t from_version);
  // The latest rollbacks and what they lost, for the operator (describe.cpp):
  // a log sink may be missing, and the loss must stay visible.
  struct RollbackRecord {
    std::int64_t time_ms = 0;  // unix
    std::string object;
    std::int64_t from = 0;
    std::int64_t to = 0;
    std::string lost;  // keys, ", " between them
  };
  static constexpr std::size_t kMaxRollbackLog = 64;
  std::deque<RollbackRecord> rollback_log;
  void log(LogLevel level, std::string_view event, std::string message, std::vector<LogField> fields) const;

  // Reminders (spec/persistence.md 8): one vat timer per committed reminder.
  std::map<std::pair<std::string, std::string>, Timer> reminder_timers;
  // The committed setting of each reminder this host knows (read when its
  // kind was registered, then written by its commits).
  std::map<std::pair<std::string, std::string>, ReminderTimes> reminder_settings;
  std::optional<ReminderTimes> committed_setting(const std::string& id, const std::string& name) const;
  // Arms `r`'s timer unless `r` is no longer the committed setting (a stale
  // retry must not replace the timer of a newer setting).
  void arm(const Reminder& r, Duration delay);
  // The timer delay until `due_ms` (unix ms): 0 if due, at most a day (a
  // later due time is reached by re-arming; fire() checks it is due).
  Duration delay_until(std::int64_t due_ms) const;
  void reminder_committed(const std::string& id, const std::string& name, const std::optional<ReminderTimes>& t);
  void fire(const Reminder& r);
  // Takes the store's claim on the due reminder `r` for this host (spec 8);
  // if another host holds it or the setting changed, re-arms accordingly and
  // returns false.
  bool claim(const Reminder& r);
};

class Slot final : public detail::Handler {
 public:
  Slot(Vat* home, std::weak_ptr<HostState> host, const KindFamily* kind, std::string key);
  ~Slot() override;

  void deliver(detail::MessagePtr m) override;
  detail::RefKind kind() const noexcept override;

  const std::string& id() const noexcept { return id_; }
  bool active() const noexcept { return obj_ != nullptr; }
  // The version of the running activation (null when not active).
  const KindInfo* running() const noexcept { return obj_ ? running_ : nullptr; }
  const KindFamily& family() const noexcept { return *kind_; }
  // For the inspection view (describe.cpp).
  std::int64_t epoch() const noexcept { return epoch_; }
  std::size_t calls_in_progress() const noexcept { return current_calls_; }
  std::size_t pending_writes() const noexcept { return pending_.size() + committing_.size(); }
  TimePoint last_used() const noexcept { return last_used_; }
  // Ends the activation now (an upgrade, a rollback): its calls in flight
  // break with `why`; the next message activates the object again.
  void restart(const Error& why);
  // The activation asked to crash (Persistent::crash): it ends when the
  // call that asked settles.
  void crash_requested(std::string reason);
  // spec/persistence.md 10: failed activations of this object, and until
  // when its restarts are paused.
  std::deque<TimePoint>& failures() noexcept { return failures_; }
  void pause_until(TimePoint t) noexcept { paused_until_ = t; }

  // Host::create made this slot under a fresh key: its first activation does
  // not ask the store (spec/persistence.md 5.1, "Fresh objects").
  void mark_fresh() noexcept { fresh_ = true; }

  // Kv (through the activation's Persistent).
  std::optional<Bytes> read(std::string_view key) const;
  void write(std::string_view key, std::optional<Bytes> v);
  void write_reminder(std::string_view name, std::optional<ReminderTimes> t);
  // Runs on_reminder as a call (activating the object first; throws if that fails).
  void fire(const Reminder& r);
  std::vector<std::pair<std::string, Bytes>> scan(std::string_view prefix) const;

  // Host side.
  bool has_pending() const noexcept { return !pending_.empty() || !pending_reminders_.empty(); }
  // Moves the pending writes (and the answers that wait for them) into the
  // committing set and returns them as the object's part of a batch: writes
  // of calls that settle while the batch commits land in a fresh pending set
  // and queue a commit of their own.
  ObjectWrites begin_commit();
  // The committing writes are durable: returns the answers that waited for
  // them, for the host to release once every slot of the batch is updated
  // (releasing one can settle calls of other slots inline).
  std::vector<std::unique_ptr<CallTxn>> committed();
  // The committing writes are lost (commit failure, fence): drops the
  // activation so that it restarts from the store (with its pending writes,
  // which may have read the lost ones) and returns the answers that waited,
  // for the host to break with `why` after the batch.
  std::vector<std::unique_ptr<CallTxn>> lost(const Error& why);
  // Sends what the call held, then settles the caller's answer as the call settled.
  static void release_answer(CallTxn& t);
  // Drops what the call held and breaks the caller's answer with `why`.
  static void break_answer(CallTxn& t, const Error& why);

  // Whether the activation is idle (spec/persistence.md 2); re-arms the timer if not.
  bool idle_now();
  // Releases the activation and tells the engine (idle, host closing).
  void passivate();
  // The host is closing: monitors and later calls break with `why`.
  void close(const Error& why);

 private:
  void activate(HostState& h);
  // Tells the store the activation of `epoch` ended, if the store knows it.
  void end_record(HostState& h, std::int64_t epoch);
  // Ends a failed activation (telling the store), counts the failure if
  // `counts`, and throws `why`.
  [[noreturn]] void fail_activation(HostState& h, KindInfo& version, const Error& why, bool counts);
  // Runs the migration steps from `from` to `to.version` and commits them;
  // false if the store refused the commit (a newer activation fenced it).
  bool migrate(HostState& h, std::int64_t from, KindInfo& to);
  friend struct CallTxn;
  void call_settled(CallTxn* t);
  void unlink(CallTxn* t) noexcept;
  void retire(const Error& why);
  CallTxn* current_txn() const;
  void arm_idle(Duration after);
  void start_call(std::unique_ptr<CallTxn> txn, detail::MessagePtr call);
  // What a fulfilled reminder call leaves of its reminder: the next due time
  // after now, or nothing (once); unless the call set the reminder itself.
  void reschedule(CallTxn& t);

  std::weak_ptr<HostState> host_;
  HostState* hs_;  // valid while the host lives (it closes every slot first)
  const KindFamily* kind_;
  KindInfo* running_ = nullptr;  // the version of the activation
  std::string id_;
  detail::HandlerPtr obj_;
  Persistent* pobj_ = nullptr;
  std::int64_t epoch_ = 0;
  std::uint64_t generation_ = 0;  // activations so far; calls of older ones cannot commit
  Error retired_why_;
  bool closed_ = false;
  bool fresh_ = false;  // made by Host::create, never activated yet
  // Activated fresh and not yet in the store: the next commit makes the
  // object (at created_version_); until then it has no stored state to read
  // and no activation record to end.
  bool create_pending_ = false;
  std::int64_t created_version_ = 0;
  bool creating_ = false;  // the batch being committed makes the object
  // Calls in progress (what current_call() names finds its CallTxn through
  // its gate), owned here until they settle.
  CallTxn* open_ = nullptr;
  std::size_t current_calls_ = 0;  // those of them that belong to this activation
  WriteSet pending_;               // writes of fulfilled calls, not yet durable
  ReminderSet pending_reminders_;
  std::vector<std::unique_ptr<CallTxn>> gated_;  // fulfilled calls whose answers wait for the next commit
  // The writes of the batch being committed, and the answers waiting for them.
  WriteSet committing_;
  ReminderSet committing_reminders_;
  std::vector<std::unique_ptr<CallTxn>> committing_gated_;
  std::vector<detail::Ptr<detail::PromiseBase>> monitors_;
  Timer idle_;
  TimePoint last_used_{};
  std::deque<TimePoint> failures_;
  std::optional<TimePoint> paused_until_;
};

}  // namespace vatic::persist::internal
