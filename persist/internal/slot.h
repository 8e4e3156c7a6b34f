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
// HostState: what a Host and its slots share: the engine, the kinds, the slot
// table, the slots with pending writes and whether a commit turn is queued.
//
// Threads: the host's vat.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include "persist/host.h"
#include "vat/message.h"
#include "vat/output_gate.h"
#include "vat/timer.h"

namespace vatic::persist::internal {

struct KindInfo {
  std::string name;
  std::int64_t version;
  std::function<detail::HandlerPtr(Vat&)> make;
};

using WriteSet = std::map<std::string, std::optional<Bytes>, std::less<>>;
using ReminderSet = std::map<std::string, std::optional<ReminderTimes>, std::less<>>;

struct CallTxn {
  detail::Ptr<detail::PromiseBase> call;    // the result the activation settles
  detail::Ptr<detail::PromiseBase> answer;  // the caller's; null for a send without one
  std::uint64_t generation = 0;             // of the activation that runs it
  WriteSet writes;
  ReminderSet reminders;
  std::optional<Reminder> fired;  // set for an on_reminder call: the reminder as it fired
  // spec/persistence.md 4, output gate: what the call sent and resolved, in
  // order, leaving with its answer (or never, if the call breaks).
  std::vector<std::unique_ptr<detail::HeldEffect>> outbox;
};

class Slot;

struct HostState {
  Vat* vat = nullptr;
  std::shared_ptr<Engine> engine;
  HostOptions options;
  std::map<std::string, std::unique_ptr<KindInfo>, std::less<>> kinds;
  std::map<std::type_index, KindInfo*> by_type;
  std::map<std::string, detail::Ptr<Slot>, std::less<>> slots;  // by id
  std::vector<detail::Ptr<Slot>> dirty;                         // with pending writes
  bool flush_queued = false;
  bool closed = false;
  HostStats stats;
  std::weak_ptr<HostState> self;

  // A slot has pending writes: queue the commit turn (group commit).
  void mark_dirty(Slot& s);
  // spec/persistence.md 4: one transaction for every pending write.
  void flush();
  // An activation's idle timer fired.
  void on_idle(Slot* s);

  // The slot of `key` in `kind`, made on first use.
  Slot& slot(const KindInfo* kind, std::string_view key);

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
};

class Slot final : public detail::Handler, public detail::OutputGate {
 public:
  Slot(Vat* home, std::weak_ptr<HostState> host, const KindInfo* kind, std::string key);
  ~Slot() override;

  void deliver(detail::MessagePtr m) override;
  detail::RefKind kind() const noexcept override;

  const std::string& id() const noexcept { return id_; }
  bool active() const noexcept { return obj_ != nullptr; }

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

  // detail::OutputGate: the effects of the calls in open_.
  void hold(detail::PromiseBase& call, std::unique_ptr<detail::HeldEffect> e) override;
  void turn_ended(detail::PromiseBase& call) override;
  // Whether the activation is idle (spec/persistence.md 2); re-arms the timer if not.
  bool idle_now();
  // Releases the activation and tells the engine (idle, host closing).
  void passivate();
  // The host is closing: monitors and later calls break with `why`.
  void close(const Error& why);

 private:
  friend class CallEnd;
  void activate(HostState& h);
  void call_settled(CallTxn* t);
  void retire(const Error& why);
  CallTxn* current_txn() const;
  void arm_idle(Duration after);
  void start_call(std::unique_ptr<CallTxn> txn, detail::MessagePtr call);
  // What a fulfilled reminder call leaves of its reminder: the next due time
  // after now, or nothing (once); unless the call set the reminder itself.
  void reschedule(CallTxn& t);

  std::weak_ptr<HostState> host_;
  HostState* hs_;  // valid while the host lives (it closes every slot first)
  const KindInfo* kind_;
  std::string id_;
  detail::HandlerPtr obj_;
  Persistent* pobj_ = nullptr;
  std::int64_t epoch_ = 0;
  std::uint64_t generation_ = 0;  // activations so far; calls of older ones cannot commit
  Error retired_why_;
  bool closed_ = false;
  // Calls in progress, by their result (what current_call() names).
  std::unordered_map<const detail::PromiseBase*, std::unique_ptr<CallTxn>> open_;
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
};

}  // namespace vatic::persist::internal
