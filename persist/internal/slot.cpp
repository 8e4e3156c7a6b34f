#include "persist/internal/slot.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "vat/task.h"

namespace vatic::persist::internal {

// A reminder whose call broke (or was lost) fires again after this long.
constexpr Duration kReminderRetry = std::chrono::seconds(1);

using detail::HandlerPtr;
using detail::MessagePtr;
using detail::PromiseBase;
using detail::Ptr;

// The call a due reminder makes: on_reminder(name) on the activation.
class ReminderCall final : public detail::MessageWithResult<Value> {
 public:
  ReminderCall(Ptr<detail::PromiseState<Value>> r, std::string name)
      : MessageWithResult<Value>(std::move(r)), name_(std::move(name)) {}
  std::string_view method() const override { return "on_reminder"; }
  void invoke(Object& target) override {
    auto& p = static_cast<Persistent&>(target);
    detail::settle_from(out(), [&] { p.on_reminder(name_); });
  }
  std::vector<Value> take_args() override { return {Value(name_)}; }

 private:
  std::string name_;
};

Slot::Slot(Vat* home, std::weak_ptr<HostState> host, const KindFamily* kind, std::string key)
    : Handler(home), host_(std::move(host)), hs_(host_.lock().get()), kind_(kind), id_(kind->name + "/" + key) {}

Slot::~Slot() {
  idle_.cancel();
  // Only calls no one can settle any more are left (each open call holds its
  // slot): drop them.
  while (CallTxn* t = open_) {
    unlink(t);
    std::unique_ptr<CallTxn> owned(t);
    detail::clear_output_gate(*t->call);
  }
}

void Slot::unlink(CallTxn* t) noexcept {
  if (t->prev)
    t->prev->next = t->next;
  else
    open_ = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = nullptr;
}

CallTxn::CallTxn(Slot* s) : slot(s) {}

void CallTxn::settled(PromiseBase&) {
  Ptr<Slot> s = slot;  // call_settled frees this
  s->call_settled(this);
}

detail::RefKind Slot::kind() const noexcept {
  // Far: no synchronous call() reaches past the slot (it would bypass the
  // call's transaction), and an activation may not exist.
  return closed_ ? detail::RefKind::broken : detail::RefKind::far;
}

void Slot::deliver(MessagePtr m) {
  // hs_ is null once the host closed this slot (it closes every slot before
  // it goes), so the hot path needs no lock of the weak pointer.
  if (!hs_ || hs_->closed || closed_)
    return detail::break_message(std::move(m), Error{ErrorKind::disconnected, fmt::format("persistent object {}: its "
                                                                                          "host is closed",
                                                                                          id_)});
  // spec/persistence.md 2, Miranda methods: answered by the slot.
  if (m->asks_when_resolved()) {
    if (Ptr<PromiseBase> r = m->take_result()) r->settle_from_value(Value(Capability{HandlerPtr(this)}));
    return;
  }
  // A typed send to the class the activation runs (the common case: no
  // upgrade in between) is delivered as it is, with a stand-in result of the
  // same type that the gate settles the caller's from: no arguments or
  // result converted to Values, no call by name.
  if (obj_ && m->target_class() && *m->target_class() == typeid(*pobj_)) {
    if (Ptr<PromiseBase> answer = m->take_result()) {
      std::unique_ptr<CallTxn> txn(new CallTxn(this));
      txn->call = answer->make_like();
      txn->answer = std::move(answer);
      txn->generation = generation_;
      m->set_result(txn->call);
      return start_call(std::move(txn), std::move(m));
    }
  }
  std::string method;
  std::vector<Value> args;
  try {
    method = std::string(m->method());
    if (method == detail::kWhenBroken) {
      if (Ptr<PromiseBase> r = m->take_result()) monitors_.push_back(std::move(r));
      return;
    }
    args = m->take_args();
    if (!obj_) {
      std::shared_ptr<HostState> h = host_.lock();  // activation code may drop the Host
      activate(*h);
    }
  } catch (...) {
    return detail::break_message(std::move(m), error_from_exception(std::current_exception()));
  }
  std::unique_ptr<CallTxn> txn(new CallTxn(this));
  txn->call = detail::make_ptr<detail::PromiseState<Value>>(home());
  txn->answer = m->take_result();
  txn->generation = generation_;
  auto call = std::make_unique<detail::DynamicMessage>(
      Ptr<detail::PromiseState<Value>>(static_cast<detail::PromiseState<Value>*>(txn->call.get())), std::move(method),
      std::move(args));
  if (m->sender_) call->set_sender(m->sender_);
  m.reset();
  start_call(std::move(txn), std::move(call));
}

void Slot::start_call(std::unique_ptr<CallTxn> txn, MessagePtr call) {
  CallTxn* t = txn.release();
  detail::set_output_gate(*t->call, t);  // it tells t when the call settles
  t->next = open_;
  if (open_) open_->prev = t;
  open_ = t;
  ++current_calls_;
  // No clock read here: a call in progress keeps the activation busy, and
  // its end (call_settled) stamps last_used_.
  obj_->deliver(std::move(call));
}

void Slot::fire(const Reminder& r) {
  std::shared_ptr<HostState> h = host_.lock();
  if (!h || h->closed || closed_) return;
  if (!obj_) activate(*h);
  std::unique_ptr<CallTxn> txn(new CallTxn(this));
  auto call = detail::make_ptr<detail::PromiseState<Value>>(home());
  txn->call = call;
  txn->generation = generation_;
  txn->effects().fired = r;
  start_call(std::move(txn), MessagePtr(new ReminderCall(std::move(call), r.name)));
}

void Slot::activate(HostState& h) {
  TimePoint now = home()->clock().now();
  if (paused_until_ && now < *paused_until_)
    throw_error(ErrorKind::overloaded,
                fmt::format("persistent object {}: its activation failed more often than its kind's intensity "
                            "allows; restarts are paused for a while (spec/persistence.md 10), retry later",
                            id_));
  paused_until_.reset();
  KindInfo* target = kind_->current();
  // Writes of an earlier activation (one that crashed or was upgraded) commit
  // under its own epoch, before this activation's bump fences them out.
  if (has_pending()) h.flush();
  // spec/persistence.md 6: an object migrated to a version this host
  // withdrew goes back to its pre-image first (normally done when the version
  // was withdrawn; this catches one migrated since, by another host).
  if (kind_->any_withdrawn()) {
    std::optional<StoredObject> st = h.engine->stored(id_);
    if (st && st->kind == kind_->name && st->version > target->version && st->preimage_from) {
      auto v = kind_->versions.find(st->version);
      if (v != kind_->versions.end() && v->second->withdrawn) h.roll_back_object(id_, st->version);
    }
  }
  // spec/persistence.md 5.1: the epoch is this activation's fence. A fresh
  // object is not in the store yet: its first commit makes it at epoch 1.
  Grant g;
  if (fresh_) {
    fresh_ = false;
    create_pending_ = true;
    created_version_ = target->version;
    g = Grant{.epoch = 1, .created = true, .version = target->version};
  } else {
    Result<Grant> r = h.engine->activate(id_, kind_->name, target->version, h.options.name);
    if (!r) throw_error(ErrorKind::failed, r.error());
    g = *r;
  }
  epoch_ = g.epoch;
  if (g.version < target->version && !target->migrate)
    return fail_activation(h, *target,
                           Error{ErrorKind::failed, fmt::format("object {} was stored by version {} of kind {}; "
                                                                "version {} has no migrate step for it "
                                                                "(spec/persistence.md 6)",
                                                                id_, g.version, kind_->name, target->version)},
                           false);
  bool superseded = false;
  try {
    superseded = g.version < target->version && !migrate(h, g.version, *target);
  } catch (...) {
    return fail_activation(h, *target, error_from_exception(std::current_exception()), true);
  }
  // Another activation (another host on the store) came in between: not a
  // failure of the code.
  if (superseded)
    return fail_activation(h, *target,
                           Error{ErrorKind::disconnected,
                                 fmt::format("persistent object {}: superseded while migrating; retry is safe", id_)},
                           false);
  try {
    HandlerPtr obj = target->make(*home());
    auto* p = dynamic_cast<Persistent*>(obj->near_object());
    if (!p) throw_error(ErrorKind::failed, fmt::format("kind {} did not make a persist::Persistent", kind_->name));
    obj_ = std::move(obj);
    pobj_ = p;
    pobj_->slot_ = this;
  } catch (...) {
    return fail_activation(h, *target, error_from_exception(std::current_exception()), true);
  }
  running_ = target;
  ++generation_;
  current_calls_ = 0;
  ++h.stats.activations;
  ++h.stats.active;
  ++target->activations;
  try {
    pobj_->on_activate();
  } catch (...) {
    Error why = error_from_exception(std::current_exception());
    retire(Error{ErrorKind::disconnected, "activation failed"});
    return fail_activation(h, *target, why, true);
  }
  last_used_ = home()->clock().now();
  arm_idle(h.options.idle);
}

void Slot::fail_activation(HostState& h, KindInfo& version, const Error& why, bool counts) {
  try {
    end_record(h, epoch_);
  } catch (...) {
    // Only a record for other hosts; the next activation bumps the epoch anyway.
  }
  if (counts) h.activation_failed(*this, version, why);
  throw VatError(why);
}

bool Slot::migrate(HostState& h, std::int64_t from, KindInfo& to) {
  // spec/persistence.md 6: one step per version, all in one transaction
  // fenced by this activation's epoch; a step that throws writes nothing.
  Migration txn(*h.engine, id_, from);
  for (std::int64_t v = from; v < to.version; ++v) {
    txn.set_from(v);
    try {
      to.migrate(v, txn);
    } catch (...) {
      Error e = error_from_exception(std::current_exception());
      throw_error(ErrorKind::failed, fmt::format("persistent object {}: migrating from version {} to {} failed: {}",
                                                 id_, v, v + 1, e.reason));
    }
  }
  MigrationWrites m = txn.take(epoch_, from, to.version);
  if (!h.engine->migrate(m)) return false;
  for (const auto& [name, t] : m.reminders) h.reminder_committed(id_, name, t);  // spec 8: armed once committed
  ++h.stats.migrations;
  h.log(LogLevel::info, "persist.migrated",
        fmt::format("persistent object {} migrated from version {} to {}", id_, from, to.version),
        {{"object", id_}, {"from", std::to_string(from)}, {"to", std::to_string(to.version)}});
  return true;
}

void Slot::end_record(HostState& h, std::int64_t epoch) {
  // A fresh object that never committed has no record in the store, and the
  // epoch it ran at may be another host's by now (spec/persistence.md 5.1):
  // nothing to end. Its next activation asks the store as usual.
  // Its pending writes, if any, still make it (they commit before any later
  // activation asks the store).
  if (create_pending_) {
    create_pending_ = has_pending();
    return;
  }
  h.engine->deactivate(id_, epoch);
}

void Slot::restart(const Error& why) {
  if (!obj_) return;
  std::int64_t epoch = epoch_;
  retire(why);
  // Calls of the ended activation answer now (a Task may wait forever); their
  // writes can no longer commit.
  for (CallTxn* t = open_; t; t = t->next)
    if (t->generation != generation_) {
      break_answer(*t, why);  // and what it held (spec/persistence.md 4)
      t->answer.reset();
    }
  try {
    end_record(*hs_, epoch);
  } catch (...) {
    // As in passivate().
  }
}

void Slot::crash_requested(std::string reason) {
  CallTxn* t = current_txn();
  if (!t)
    throw_error(ErrorKind::failed, fmt::format("persistent object {}: crash() belongs to a call of the object "
                                               "(spec/persistence.md 10)",
                                               id_));
  t->effects().crash = std::move(reason);
}

void Slot::arm_idle(Duration after) {
  idle_.cancel();
  std::weak_ptr<HostState> w = host_;
  Slot* s = this;  // the host's table holds the slot while it is active
  idle_ = home()->after(after, [w, s] {
    if (auto h = w.lock()) h->on_idle(s);
  });
}

CallTxn* Slot::current_txn() const {
  PromiseBase* cur = detail::current_call();
  detail::OutputGate* g = cur ? detail::output_gate_of(*cur) : nullptr;
  // A gate this slot made is one of its CallTxns (set in start_call, cleared
  // when the call settles, before the txn leaves open_).
  if (!g || g->owner() != this) return nullptr;
  auto* t = static_cast<CallTxn*>(g);
  return t->generation == generation_ ? t : nullptr;
}

std::optional<Bytes> Slot::read(std::string_view key) const {
  if (CallTxn* t = current_txn(); t && t->fx)
    if (auto it = t->fx->writes.find(key); it != t->fx->writes.end()) return it->second;
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  if (auto it = committing_.find(key); it != committing_.end()) return it->second;
  if (create_pending_) return std::nullopt;  // nothing stored yet
  return hs_->engine->get(id_, key);
}

void Slot::write(std::string_view key, std::optional<Bytes> v) {
  CallTxn* t = current_txn();
  if (!t)
    throw_error(ErrorKind::failed,
                fmt::format("persistent object {}: kv writes belong to a call of the object (its method or the Task "
                            "it returns), not to on_activate, then-continuations or timers (spec/persistence.md 3)",
                            id_));
  t->effects().writes.insert_or_assign(std::string(key), std::move(v));
}

void Slot::write_reminder(std::string_view name, std::optional<ReminderTimes> t) {
  CallTxn* txn = current_txn();
  if (!txn)
    throw_error(ErrorKind::failed, fmt::format("persistent object {}: reminders are set in a call of the object "
                                               "(spec/persistence.md 8)",
                                               id_));
  txn->effects().reminders.insert_or_assign(std::string(name), t);
}

void Slot::reschedule(CallTxn& txn) {
  if (!txn.fired()) return;
  CallEffects& t = *txn.fx;
  if (t.reminders.count(t.fired->name)) return;  // the call decided itself
  const ReminderTimes& was = t.fired->times;
  // Compare and set (spec/persistence.md 8): another call may have set or
  // forgotten the reminder since it fired; its setting (pending, being
  // committed or committed) stands.
  std::optional<ReminderTimes> now_set;
  if (auto it = pending_reminders_.find(t.fired->name); it != pending_reminders_.end())
    now_set = it->second;
  else if (auto c = committing_reminders_.find(t.fired->name); c != committing_reminders_.end())
    now_set = c->second;
  else
    now_set = hs_->committed_setting(id_, t.fired->name);
  if (now_set != was) return;
  if (was.period_ms <= 0) {
    t.reminders.emplace(t.fired->name, std::nullopt);  // once: done
    return;
  }
  // The next due time after now; periods missed while nobody ran are skipped.
  // Times from the store may predate remind()'s range check: clamp them so
  // that no sum below overflows (spec/persistence.md 8 bounds both).
  std::int64_t now = std::clamp<std::int64_t>(home()->clock().unix_ms(), 0, kMaxReminderDueMs);
  std::int64_t period = std::min(was.period_ms, kMaxReminderPeriodMs);
  std::int64_t due = std::clamp<std::int64_t>(was.due_ms, 0, kMaxReminderDueMs) + period;
  if (due <= now) due += ((now - due) / period + 1) * period;
  t.reminders.emplace(t.fired->name, ReminderTimes{due, period});
}

std::vector<std::pair<std::string, Bytes>> Slot::scan(std::string_view prefix) const {
  std::map<std::string, Bytes, std::less<>> merged;
  if (!create_pending_)
    for (auto& [k, v] : hs_->engine->scan(id_, prefix)) merged.emplace(std::move(k), std::move(v));
  auto overlay = [&](const WriteSet& w) {
    for (auto it = w.lower_bound(prefix); it != w.end() && it->first.starts_with(prefix); ++it) {
      if (it->second)
        merged.insert_or_assign(it->first, *it->second);
      else
        merged.erase(it->first);
    }
  };
  overlay(committing_);
  overlay(pending_);
  if (CallTxn* t = current_txn(); t && t->fx) overlay(t->fx->writes);
  return {std::make_move_iterator(merged.begin()), std::make_move_iterator(merged.end())};
}

void Slot::call_settled(CallTxn* t) {
  unlink(t);
  std::unique_ptr<CallTxn> txn(t);
  txn->slot.reset();  // a settled call may wait in this slot's commit lists: no cycle
  if (txn->generation == generation_) --current_calls_;
  last_used_ = home()->clock().now();
  if (txn->generation != generation_ || !obj_) {
    // Its activation was dropped (commit failure, fence, host closing): what
    // it read may be gone, so its answer cannot be trusted.
    break_answer(*txn, retired_why_);
    if (txn->fired() && hs_) hs_->arm(*txn->fired(), kReminderRetry);
    return;
  }
  if (txn->fx && txn->fx->crash && txn->call->status() == PromiseBase::Status::broken) {
    // spec/persistence.md 10: the activation crashed in this call. The call's
    // writes roll back, the activation ends (its other calls break, safe to
    // retry) and the next message restarts it from committed state (with the
    // pending writes of calls that were fulfilled before, which commit first).
    std::string reason = std::move(*txn->fx->crash);
    Error rolled_back{
        ErrorKind::failed,
        fmt::format("persistent object {}: rolled back, the call that made this crashed ({})", id_, reason)};
    while (auto e = txn->outbox.pop()) e->discard(rolled_back);  // spec 4: never leave
    if (txn->answer) txn->answer->copy_outcome_from_public(*txn->call);
    if (txn->fired()) hs_->arm(*txn->fired(), kReminderRetry);
    KindInfo* version = running_;
    restart(
        Error{ErrorKind::disconnected,
              fmt::format("persistent object {} crashed and restarts from its committed state; retry is safe", id_)});
    if (version) hs_->activation_failed(*this, *version, Error{ErrorKind::failed, reason});
    return;
  }
  if (txn->call->status() == PromiseBase::Status::broken) {
    // spec/persistence.md 3: the call's writes roll back, and so do its
    // messages and resolves (4); only its answer breaks.
    if (txn->wrote() || !txn->outbox.empty()) ++hs_->stats.rolled_back;
    if (!txn->outbox.empty()) {
      Error why{ErrorKind::failed, fmt::format("persistent object {}: rolled back, the call that made this failed ({})",
                                               id_, txn->call->error().reason)};
      while (auto e = txn->outbox.pop()) e->discard(why);
    }
    if (txn->answer) txn->answer->copy_outcome_from_public(*txn->call);
    if (txn->fired()) hs_->arm(*txn->fired(), kReminderRetry);  // spec 8: at least once
    return;
  }
  reschedule(*txn);
  if (txn->wrote()) {
    CallEffects& fx = *txn->fx;
    bool was_clean = !has_pending();
    pending_.merge(fx.writes);
    for (auto& [k, v] : fx.writes) pending_.insert_or_assign(k, std::move(v));  // later writes win
    pending_reminders_.merge(fx.reminders);
    for (auto& [k, v] : fx.reminders) pending_reminders_.insert_or_assign(k, v);
    if (was_clean) hs_->mark_dirty(*this);
  }
  // spec/persistence.md 4, output gate: an answer that may have seen writes
  // not yet durable waits for their commit: the next one if writes are
  // pending, else the one in progress.
  if (has_pending())
    gated_.push_back(std::move(txn));
  else if (!committing_.empty() || !committing_reminders_.empty())
    committing_gated_.push_back(std::move(txn));
  else
    release_answer(*txn);
}

void Slot::release_answer(CallTxn& t) {
  // The call's messages first: its caller, told the call is done, may expect
  // them on their way (each still goes after any sent before it).
  detail::HeldQueue out = std::move(t.outbox);
  while (auto e = out.pop()) e->release();
  if (t.answer) t.answer->copy_outcome_from_public(*t.call);
}

void Slot::break_answer(CallTxn& t, const Error& why) {
  detail::HeldQueue out = std::move(t.outbox);
  while (auto e = out.pop()) e->discard(why);
  if (t.answer) t.answer->break_with(why);
}

void CallTxn::turn_ended(PromiseBase&) {
  detail::HeldQueue out = std::move(outbox);
  while (auto e = out.pop()) e->release();
}

ObjectWrites Slot::begin_commit() {
  committing_ = std::move(pending_);
  pending_.clear();
  committing_reminders_ = std::move(pending_reminders_);
  pending_reminders_.clear();
  for (auto& t : gated_) committing_gated_.push_back(std::move(t));
  gated_.clear();
  ObjectWrites w{id_, epoch_, {}, {}, std::nullopt};
  if (create_pending_) {
    // spec/persistence.md 5.1, "Fresh objects": this commit makes it. Made or
    // fenced, it is no longer pending (a lost commit retires the activation,
    // and the next one asks the store).
    w.create = Creation{kind_->name, created_version_, hs_->options.name};
    create_pending_ = false;
    creating_ = true;
  }
  w.writes.reserve(committing_.size());
  for (const auto& [k, v] : committing_) w.writes.emplace_back(k, v);
  for (const auto& [name, t] : committing_reminders_) w.reminders.emplace_back(name, t);
  return w;
}

std::vector<std::unique_ptr<CallTxn>> Slot::committed() {
  if (std::exchange(creating_, false) && !obj_) {
    // Made by this commit after the activation that created it ended: the
    // store's record of that activation ends too (spec/persistence.md 5.1).
    try {
      hs_->engine->deactivate(id_, 1);
    } catch (...) {
      // Only a record for other hosts, as in passivate().
    }
  }
  committing_.clear();
  ReminderSet reminders = std::move(committing_reminders_);
  committing_reminders_.clear();
  for (const auto& [name, t] : reminders) hs_->reminder_committed(id_, name, t);
  std::vector<std::unique_ptr<CallTxn>> gated = std::move(committing_gated_);
  committing_gated_.clear();
  return gated;
}

std::vector<std::unique_ptr<CallTxn>> Slot::lost(const Error& why) {
  creating_ = false;
  committing_.clear();
  committing_reminders_.clear();
  pending_.clear();
  pending_reminders_.clear();
  std::vector<std::unique_ptr<CallTxn>> gated = std::move(committing_gated_);
  committing_gated_.clear();
  for (auto& t : gated_) gated.push_back(std::move(t));
  gated_.clear();
  retire(why);
  for (auto& t : gated)
    if (t->fired()) hs_->arm(*t->fired(), kReminderRetry);  // its reschedule was lost too
  return gated;
}

void Slot::retire(const Error& why) {
  idle_.cancel();
  retired_why_ = why;
  if (pobj_) pobj_->slot_ = nullptr;
  pobj_ = nullptr;
  if (obj_ && hs_) --hs_->stats.active;
  obj_.reset();
  ++generation_;  // calls of the dropped activation can no longer match
  current_calls_ = 0;
}

bool Slot::idle_now() {
  if (!obj_) return false;
  TimePoint now = home()->clock().now();
  Duration idle = hs_->options.idle;
  bool busy = current_calls_ > 0 || has_pending() || !gated_.empty() || !committing_gated_.empty() ||
              !committing_.empty() || !committing_reminders_.empty();
  if (busy || now - last_used_ < idle) {
    arm_idle(busy ? idle : idle - (now - last_used_));
    return false;
  }
  return true;
}

void Slot::passivate() {
  if (!obj_) return;
  std::int64_t epoch = epoch_;
  retire(Error{ErrorKind::disconnected, fmt::format("persistent object {} was passivated; retry is safe", id_)});
  try {
    end_record(*hs_, epoch);
  } catch (...) {
    // Only a record for other hosts; the next activation bumps the epoch anyway.
  }
}

void Slot::close(const Error& why) {
  passivate();
  retired_why_ = why;
  closed_ = true;
  // Calls still running (a Task waiting on something) answer now: their
  // writes can no longer commit. Their transactions go too (each holds this
  // slot, which would otherwise outlive the host until the call settles).
  while (CallTxn* t = open_) {
    unlink(t);
    std::unique_ptr<CallTxn> owned(t);
    detail::clear_output_gate(*t->call);
    break_answer(*t, why);
  }
  for (auto& m : monitors_) m->break_with(why);
  monitors_.clear();
  hs_ = nullptr;
}

}  // namespace vatic::persist::internal
