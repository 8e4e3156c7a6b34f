#include "persist/host.h"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

#include "persist/internal/slot.h"
#include "vat/secret.h"
#include "vat/utf8.h"

namespace vatic::persist {

namespace internal {

KindInfo* KindFamily::current() const {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it)
    if (!it->second->withdrawn) return it->second.get();
  return versions.begin()->second.get();  // never reached: the lowest is never withdrawn
}

bool KindFamily::any_withdrawn() const {
  return std::any_of(versions.begin(), versions.end(), [](const auto& v) { return v.second->withdrawn; });
}

KindInfo* KindFamily::below(std::int64_t v) const {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it)
    if (it->first < v && !it->second->withdrawn) return it->second.get();
  return nullptr;
}

void HostState::log(LogLevel level, std::string_view event, std::string message, std::vector<LogField> fields) const {
  if (!vat->log_enabled(level)) return;
  for (auto& f : fields) f.value = utf8::printable(f.value);
  vat->log(LogEvent{level, "persist", event, utf8::printable(message), std::move(fields)});
}

void HostState::activation_failed(Slot& s, KindInfo& version, const Error& why) {
  TimePoint now = vat->clock().now();
  ++stats.failed_activations;
  ++version.failed;
  log(LogLevel::warn, "persist.activation_failed",
      fmt::format("persistent object {} (version {}) failed: {}", s.id(), version.version, why.reason),
      {{"object", s.id()}, {"version", std::to_string(version.version)}, {"reason", why.reason}});
  // The supervisor's intensity rule (vat/supervise/supervisor.h): more than
  // `intensity` failures within `period`.
  auto over = [&](std::deque<TimePoint>& q) {
    q.push_back(now);
    while (!q.empty() && q.front() < now - version.period) q.pop_front();
    return q.size() > static_cast<std::size_t>(version.intensity);
  };
  // spec/persistence.md 6: an upgraded version that fails too often is
  // withdrawn, and the objects migrated to it are rolled back.
  if (over(version.failures) && !version.withdrawn && version.family->below(version.version)) {
    version.withdrawn = true;
    version.failures.clear();
    KindInfo* older = version.family->below(version.version);
    log(LogLevel::error, "persist.withdrawn",
        fmt::format("kind {} version {} failed more than {} times in {} ms; rolling back to version {}", version.name,
                    version.version, version.intensity,
                    std::chrono::duration_cast<std::chrono::milliseconds>(version.period).count(), older->version),
        {{"kind", version.name}, {"version", std::to_string(version.version)}, {"to", std::to_string(older->version)}});
    std::weak_ptr<HostState> w = self;
    KindInfo* v = &version;  // kinds live as long as the host state
    vat->post([w, v] {
      if (auto h = w.lock(); h && !h->closed) h->roll_back(*v);
    });
    s.failures().clear();
    return;
  }
  // spec/persistence.md 10: beyond the intensity, the object's restarts pause.
  if (over(s.failures())) {
    s.failures().clear();
    s.pause_until(now + version.period);
    log(LogLevel::warn, "persist.paused",
        fmt::format("persistent object {} failed more than {} times in {} ms; its restarts pause for as long", s.id(),
                    version.intensity, std::chrono::duration_cast<std::chrono::milliseconds>(version.period).count()),
        {{"object", s.id()}});
  }
}

void HostState::roll_back(KindInfo& version) {
  KindInfo* older = version.family->current();
  restart_stale(*version.family,
                Error{ErrorKind::disconnected, fmt::format("kind {} version {} was rolled back to version {}; retry "
                                                           "is safe",
                                                           version.name, version.version, older->version)});
  for (const std::string& id : engine->migrated(version.name, version.version)) {
    try {
      roll_back_object(id, version.version);
    } catch (...) {
      // The store failed: the object is rolled back when it is next activated.
      Error e = error_from_exception(std::current_exception());
      log(LogLevel::error, "persist.rollback_failed", fmt::format("rolling back {} failed: {}", id, e.reason),
          {{"object", id}, {"reason", e.reason}});
    }
  }
}

void HostState::restart_stale(const KindFamily& kind, const Error& why) {
  // Pending writes of the old code commit first, under its epochs: they were
  // answered (or are about to be) and belong to the state it leaves.
  flush();
  const KindInfo* current = kind.current();
  for (auto& [id, slot] : slots)
    if (&slot->family() == &kind && slot->running() && slot->running() != current) slot->restart(why);
}

void HostState::roll_back_object(const std::string& id, std::int64_t from_version) {
  std::optional<RolledBack> r = engine->rollback(id);
  if (!r) return;
  ++stats.rollbacks;
  // spec/persistence.md 6 and 8: the restored reminder settings run (and a
  // reminder the migration added is forgotten) from now on.
  for (const auto& [name, t] : r->reminders) reminder_committed(id, name, t);
  std::string lost, lost_reminders;
  for (const std::string& k : r->lost) lost += (lost.empty() ? "" : ", ") + k;
  for (const std::string& n : r->lost_reminders) lost_reminders += (lost_reminders.empty() ? "" : ", ") + n;
  if (rollback_log.size() == kMaxRollbackLog) rollback_log.pop_front();
  rollback_log.push_back({vat->clock().unix_ms(), id, from_version, r->version, lost});
  log(LogLevel::warn, "persist.rolled_back",
      fmt::format("persistent object {} rolled back from version {} to {}; lost the values version {} had stored "
                  "under: {}; and the reminder settings: {}",
                  id, from_version, r->version, from_version, lost.empty() ? std::string("(nothing)") : lost,
                  lost_reminders.empty() ? std::string("(none)") : lost_reminders),
      {{"object", id},
       {"from", std::to_string(from_version)},
       {"to", std::to_string(r->version)},
       {"lost", lost},
       {"lost_reminders", lost_reminders}});
}

void HostState::mark_dirty(Slot& s) {
  dirty.emplace_back(&s);
  if (flush_queued) return;
  flush_queued = true;
  // spec/persistence.md 4, group commit: every call that finishes before this
  // turn runs joins its transaction.
  std::weak_ptr<HostState> w = self;
  auto commit = [w] {
    if (auto h = w.lock()) h->flush();
  };
  if (options.commit_delay > Duration::zero())
    vat->after(options.commit_delay, std::move(commit));
  else
    vat->post(std::move(commit));
}

void HostState::flush() {
  flush_queued = false;
  std::vector<detail::Ptr<Slot>> slots_in = std::move(dirty);
  dirty.clear();
  std::vector<detail::Ptr<Slot>> members;
  std::vector<ObjectWrites> batch;
  for (auto& s : slots_in) {
    if (!s->has_pending()) continue;  // lost since (a fence, a failed commit)
    batch.push_back(s->begin_commit());
    members.push_back(std::move(s));
  }
  if (batch.empty()) return;
  // Answers settle only after every member is updated: releasing one can
  // settle another slot's call inline, whose writes must find that slot's
  // committing set already gone (they go to its next commit).
  std::vector<std::unique_ptr<CallTxn>> released;
  std::vector<std::pair<std::unique_ptr<CallTxn>, Error>> broken;
  auto lose = [&](Slot& s, const Error& why) {
    for (auto& t : s.lost(why)) broken.emplace_back(std::move(t), why);
  };
  CommitReport report;
  bool ok = true;
  try {
    report = engine->commit(batch);
  } catch (...) {
    ok = false;
    Error e = error_from_exception(std::current_exception());
    ++stats.commit_failures;
    Error why{ErrorKind::disconnected, fmt::format("commit failed ({}); retry is safe", e.reason)};
    for (auto& s : members) lose(*s, why);
  }
  if (ok) {
    ++stats.commits;
    for (auto& s : members) {
      if (std::find(report.fenced.begin(), report.fenced.end(), s->id()) != report.fenced.end()) {
        ++stats.fenced;
        lose(*s, Error{ErrorKind::disconnected,
                       fmt::format("persistent object {}: superseded by a newer activation; retry is safe", s->id())});
      } else {
        for (auto& t : s->committed()) released.push_back(std::move(t));
      }
    }
  }
  for (auto& t : released) Slot::release_answer(*t);
  for (auto& [t, why] : broken) Slot::break_answer(*t, why);
}

void HostState::on_idle(Slot* s) {
  if (!s->idle_now()) return;
  s->passivate();
  ++stats.passivations;
  // Forget the slot if nothing but this table holds it; a reference taken
  // later makes a new one (spec/persistence.md 2: references stay valid, and
  // none is left).
  if (s->ref_count() == 1) {
    std::string id = s->id();
    slots.erase(id);
  }
}

Slot& HostState::slot(const KindFamily* kind, std::string_view key) {
  std::string id = kind->name + "/" + std::string(key);
  auto it = slots.find(id);
  if (it == slots.end()) it = slots.emplace(id, detail::make_ptr<Slot>(vat, self, kind, std::string(key))).first;
  return *it->second;
}

std::optional<ReminderTimes> HostState::committed_setting(const std::string& id, const std::string& name) const {
  auto it = reminder_settings.find({id, name});
  if (it == reminder_settings.end()) return std::nullopt;
  return it->second;
}

void HostState::arm(const Reminder& r, Duration delay) {
  if (closed || committed_setting(r.id, r.name) != r.times) return;
  std::weak_ptr<HostState> w = self;
  Timer& t = reminder_timers[{r.id, r.name}];
  t.cancel();
  t = vat->after(delay, [w, r] {
    if (auto h = w.lock()) h->fire(r);
  });
}

void HostState::reminder_committed(const std::string& id, const std::string& name,
                                   const std::optional<ReminderTimes>& t) {
  if (t)
    reminder_settings.insert_or_assign({id, name}, *t);
  else
    reminder_settings.erase({id, name});
  if (!t) {
    auto it = reminder_timers.find({id, name});
    if (it != reminder_timers.end()) {
      it->second.cancel();
      reminder_timers.erase(it);
    }
    return;
  }
  arm(Reminder{id, name, *t}, delay_until(t->due_ms));
}

Duration HostState::delay_until(std::int64_t due_ms) const {
  // The store may hold due times from before remind() checked its range:
  // compute without signed overflow, and keep the ms -> ns conversion of the
  // timer's Duration far from its limit (about 292 years).
  constexpr std::int64_t kMaxDelayMs = 24 * 60 * 60 * 1000;
  std::int64_t now = vat->clock().unix_ms();
  if (due_ms <= now) return Duration::zero();
  std::uint64_t in_ms = static_cast<std::uint64_t>(due_ms) - static_cast<std::uint64_t>(now);
  return std::chrono::milliseconds(std::min<std::uint64_t>(in_ms, kMaxDelayMs));
}

bool HostState::claim(const Reminder& r) {
  // spec/persistence.md 8, several hosts on one store: only the holder of
  // the claim runs a due reminder, so that hosts do not each activate its
  // object (and fence each other's activation) for it.
  std::int64_t now = vat->clock().unix_ms();
  auto lease = std::chrono::duration_cast<std::chrono::milliseconds>(options.reminder_lease).count();
  ReminderClaim c;
  try {
    c = engine->claim_reminder(r, claimant, now, now + std::max<std::int64_t>(lease, 0));
  } catch (...) {
    arm(r, std::chrono::seconds(1));  // the store failed: try again, as for a failed activation
    return false;
  }
  if (c.claimed) return true;
  if (c.stored != r.times)
    reminder_committed(r.id, r.name, c.stored);  // run or moved elsewhere: follow the store
  else if (Duration d = delay_until(c.held_until_ms); d > Duration::zero())
    arm(r, d);  // another host's claim: look again when its lease ends
  else
    arm(r, std::chrono::seconds(1));  // a lease that ended was still refused (clocks apart): never spin
  return false;
}

void HostState::fire(const Reminder& r) {
  // The timer stays in the table (spent) until the reminder's call commits a
  // new due time or its erasure, or fails and is armed again.
  if (committed_setting(r.id, r.name) != r.times) return;  // stale: replaced or forgotten since
  if (r.times.due_ms > vat->clock().unix_ms()) {
    // Not due yet: the timer's delay was capped (or the wall clock moved back).
    arm(r, delay_until(r.times.due_ms));
    return;
  }
  std::size_t slash = r.id.find('/');
  auto kind = kinds.find(std::string_view(r.id).substr(0, slash));
  if (slash == std::string::npos || kind == kinds.end()) return;
  if (!claim(r)) return;
  try {
    slot(kind->second.get(), std::string_view(r.id).substr(slash + 1)).fire(r);
  } catch (...) {
    // The activation failed (the store, on_activate): try again later.
    arm(r, std::chrono::seconds(1));
  }
}

}  // namespace internal

namespace {
void check_name(std::string_view what, std::string_view s, std::size_t max, bool slash_ok) {
  if (s.empty() || s.size() > max)
    throw_error(ErrorKind::failed, fmt::format("persist: a {} is 1 to {} bytes, got {}", what, max, s.size()));
  if (s.find('\0') != std::string_view::npos)
    throw_error(ErrorKind::failed, fmt::format("persist: a {} must not contain NUL", what));
  if (!slash_ok && s.find('/') != std::string_view::npos)
    throw_error(ErrorKind::failed, fmt::format("persist: a {} must not contain '/'", what));
}
}  // namespace

Host::Host(Vat& vat, std::shared_ptr<Engine> engine, HostOptions options)
    : s_(std::make_shared<internal::HostState>()) {
  if (!engine) throw_error(ErrorKind::failed, "persist::Host needs an engine");
  s_->vat = &vat;
  s_->engine = std::move(engine);
  s_->options = std::move(options);
  s_->self = s_;
  s_->claimant = s_->options.name + "#" + fresh_key();
}

Host::~Host() {
  try {
    s_->flush();
  } catch (...) {
    // flush() reports its own failures to the answers it breaks.
  }
  s_->closed = true;
  for (auto& [key, timer] : s_->reminder_timers) timer.cancel();
  s_->reminder_timers.clear();
  Error why{ErrorKind::disconnected, "persistent object's host closed; retry is safe"};
  auto slots = std::move(s_->slots);
  for (auto& [id, slot] : slots) slot->close(why);
}

void Host::add_kind(std::type_index type, KindSpec spec, std::function<detail::HandlerPtr(Vat&)> make) {
  check_name("kind name", spec.name, 64, false);
  if (spec.version < 1) throw_error(ErrorKind::failed, fmt::format("persist: kind {} needs a version >= 1", spec.name));
  if (spec.intensity < 0)
    throw_error(ErrorKind::failed, fmt::format("persist: kind {} needs an intensity >= 0", spec.name));
  if (s_->by_type.count(type))
    throw_error(ErrorKind::failed, fmt::format("persist: the class of kind {} is registered twice", spec.name));
  auto& family = s_->kinds[spec.name];
  bool first = !family;
  if (first) {
    family = std::make_unique<internal::KindFamily>();
    family->name = spec.name;
  }
  if (family->versions.count(spec.version))
    throw_error(ErrorKind::failed,
                fmt::format("persist: kind {} version {} is registered twice", spec.name, spec.version));
  internal::KindInfo* before = first ? nullptr : family->current();
  auto info = std::make_unique<internal::KindInfo>();
  info->name = spec.name;
  info->version = spec.version;
  info->make = std::move(make);
  info->migrate = std::move(spec.migrate);
  info->intensity = spec.intensity;
  info->period = spec.period;
  info->family = family.get();
  s_->by_type.emplace(type, info.get());
  family->versions.emplace(spec.version, std::move(info));
  if (first) {
    // spec/persistence.md 8: the kind's reminders run from now on, whether or
    // not their objects are active.
    for (const Reminder& r : s_->engine->reminders(spec.name)) s_->reminder_committed(r.id, r.name, r.times);
  } else if (family->current() != before) {
    // spec/persistence.md 6: an upgrade in a running host ends the
    // activations of the older code; their next message migrates them.
    s_->restart_stale(
        *family, Error{ErrorKind::disconnected,
                       fmt::format("persistent object's kind {} was upgraded to version {}; retry is safe", spec.name,
                                   spec.version)});
  }
}

detail::HandlerPtr Host::slot_for(std::type_index type, std::string_view key) {
  auto k = s_->by_type.find(type);
  if (k == s_->by_type.end())
    throw_error(ErrorKind::failed, fmt::format("persist: {} is not a registered kind", type.name()));
  check_name("key", key, 256, true);
  return detail::HandlerPtr(&s_->slot(k->second->family, key));
}

detail::HandlerPtr Host::fresh_slot_for(std::type_index type) {
  detail::HandlerPtr h = slot_for(type, fresh_key());
  static_cast<internal::Slot&>(*h).mark_fresh();
  return h;
}

Ref<Object> Host::object_by_id(std::string_view id) {
  std::size_t slash = id.find('/');
  if (slash == std::string_view::npos)
    throw_error(ErrorKind::failed, "persist: an object id is <kind>/<key>, and this one has no '/'");
  auto kind = s_->kinds.find(id.substr(0, slash));
  if (kind == s_->kinds.end())
    throw_error(ErrorKind::failed, fmt::format("persist: no kind {:?} is registered here", id.substr(0, slash)));
  std::string_view key = id.substr(slash + 1);
  check_name("key", key, 256, true);
  return detail::RefAccess::make<Object>(detail::HandlerPtr(&s_->slot(kind->second.get(), key)));
}

std::optional<std::string> Host::id_of(const Ref<Object>& ref) const {
  detail::Handler* h = detail::RefAccess::handler(ref).get();
  while (h && h->forwards_to()) h = h->forwards_to();
  auto* slot = dynamic_cast<internal::Slot*>(h);
  if (!slot) return std::nullopt;
  // Only this host's slots: one of another host may carry the same id.
  auto it = s_->slots.find(slot->id());
  if (it == s_->slots.end() || it->second.get() != slot) return std::nullopt;
  return slot->id();
}

std::string Host::fresh_key() {
  std::array<std::uint8_t, 16> b;
  detail::fill_random(b.data(), b.size());
  std::string out;
  for (std::uint8_t x : b) out += fmt::format("{:02x}", x);
  return out;
}

void Host::flush() { s_->flush(); }

HostStats Host::stats() const { return s_->stats; }

}  // namespace vatic::persist
