#include "persist/memory_engine.h"

#include "persist/internal/engine_common.h"

namespace vatic::persist {

Result<Grant> MemoryEngine::activate(const std::string& id, std::string_view kind, std::int64_t version,
                                     std::string_view host) {
  std::lock_guard lock(mu_);
  Grant g;
  auto it = objects_.find(id);
  if (it == objects_.end()) {
    it = objects_.emplace(id, Object{std::string(kind), version, 0, {}, {}, {}, {}, {}, {}}).first;
    g.created = true;
  } else if (auto ok = internal::check_stored_kind(id, it->second.kind, it->second.version, kind, version); !ok) {
    return refuse(ok.error());
  }
  g.epoch = ++it->second.epoch;
  g.version = it->second.version;
  it->second.host = std::string(host);
  return g;
}

void MemoryEngine::deactivate(const std::string& id, std::int64_t epoch) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(id);
  if (it != objects_.end() && it->second.epoch == epoch) it->second.host.clear();
}

std::optional<Bytes> MemoryEngine::get(const std::string& id, std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(id);
  if (it == objects_.end()) return std::nullopt;
  auto kv = it->second.kv.find(key);
  if (kv == it->second.kv.end()) return std::nullopt;
  return kv->second;
}

std::vector<std::pair<std::string, Bytes>> MemoryEngine::scan(const std::string& id, std::string_view prefix) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, Bytes>> out;
  auto it = objects_.find(id);
  if (it == objects_.end()) return out;
  for (auto kv = it->second.kv.lower_bound(prefix); kv != it->second.kv.end() && kv->first.starts_with(prefix); ++kv)
    out.emplace_back(kv->first, kv->second);
  return out;
}

CommitReport MemoryEngine::commit(std::span<const ObjectWrites> batch) {
  std::lock_guard lock(mu_);
  if (fail_commits_ > 0) {
    --fail_commits_;
    throw_error(ErrorKind::failed, "memory engine: injected commit failure");
  }
  CommitReport report;
  for (const ObjectWrites& o : batch) {
    auto it = objects_.find(o.id);
    if (o.create && it == objects_.end())  // spec/persistence.md 5.1, "Fresh objects"
      it = objects_.emplace(o.id, Object{o.create->kind, o.create->version, 1, o.create->host, {}, {}, {}, {}}).first;
    else if (o.create)
      it = objects_.end();  // made by someone else meanwhile: fenced
    if (it == objects_.end() || it->second.epoch != o.epoch) {
      report.fenced.push_back(o.id);
      continue;
    }
    for (const auto& [k, v] : o.writes) {
      if (v)
        it->second.kv.insert_or_assign(k, *v);
      else
        it->second.kv.erase(k);
    }
    for (const auto& [name, t] : o.reminders) {
      if (t)
        it->second.reminders.insert_or_assign(name, StoredReminder{*t, {}, 0});  // a new setting: unclaimed
      else
        it->second.reminders.erase(name);
    }
  }
  ++commits_;
  return report;
}

std::vector<Reminder> MemoryEngine::reminders(std::string_view kind) {
  std::lock_guard lock(mu_);
  std::vector<Reminder> out;
  std::string prefix = std::string(kind) + "/";
  for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it)
    for (const auto& [name, r] : it->second.reminders) out.push_back({it->first, name, r.times});
  return out;
}

ReminderClaim MemoryEngine::claim_reminder(const Reminder& r, std::string_view host, std::int64_t now_ms,
                                           std::int64_t until_ms) {
  std::lock_guard lock(mu_);
  ReminderClaim c;
  auto it = objects_.find(r.id);
  if (it == objects_.end()) return c;
  auto rem = it->second.reminders.find(r.name);
  if (rem == it->second.reminders.end()) return c;
  StoredReminder& s = rem->second;
  c.stored = s.times;
  if (s.times != r.times) return c;
  if (s.claim_host.empty() || s.claim_host == host || s.claim_until <= now_ms) {
    s.claim_host = std::string(host);
    s.claim_until = until_ms;
    c.claimed = true;
  } else {
    c.held_until_ms = s.claim_until;
  }
  return c;
}

std::int64_t MemoryEngine::epoch(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(id);
  return it == objects_.end() ? 0 : it->second.epoch;
}

bool MemoryEngine::migrate(const MigrationWrites& m) {
  std::lock_guard lock(mu_);
  if (fail_commits_ > 0) {
    --fail_commits_;
    throw_error(ErrorKind::failed, "memory engine: injected commit failure");
  }
  auto it = objects_.find(m.id);
  if (it == objects_.end() || it->second.epoch != m.epoch || it->second.version != m.from) return false;
  Object& o = it->second;
  o.preimage.clear();
  for (const auto& [k, v] : m.preimage) o.preimage.insert_or_assign(k, v);
  o.preimage_from = m.from;
  o.reminder_preimage.clear();
  for (const auto& [name, t] : m.reminders) {
    auto was = o.reminders.find(name);
    o.reminder_preimage.insert_or_assign(
        name, was == o.reminders.end() ? std::nullopt : std::optional<ReminderTimes>(was->second.times));
    if (t)
      o.reminders.insert_or_assign(name, StoredReminder{*t, {}, 0});
    else if (was != o.reminders.end())
      o.reminders.erase(was);
  }
  for (const auto& [k, v] : m.writes) {
    if (v)
      o.kv.insert_or_assign(k, *v);
    else
      o.kv.erase(k);
  }
  o.version = m.to;
  ++commits_;
  return true;
}

std::optional<RolledBack> MemoryEngine::rollback(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(id);
  if (it == objects_.end() || !it->second.preimage_from) return std::nullopt;
  Object& o = it->second;
  RolledBack r{*o.preimage_from, {}};
  for (const auto& [k, v] : o.preimage) {
    auto cur = o.kv.find(k);
    std::optional<Bytes> now = cur == o.kv.end() ? std::nullopt : std::optional<Bytes>(cur->second);
    if (now && now != v) r.lost.push_back(k);
    if (v)
      o.kv.insert_or_assign(k, *v);
    else if (cur != o.kv.end())
      o.kv.erase(cur);
  }
  for (const auto& [name, t] : o.reminder_preimage) {
    auto cur = o.reminders.find(name);
    if (cur != o.reminders.end() && cur->second.times != t) r.lost_reminders.push_back(name);
    if (t)
      o.reminders.insert_or_assign(name, StoredReminder{*t, {}, 0});
    else if (cur != o.reminders.end())
      o.reminders.erase(cur);
    r.reminders.emplace_back(name, t);
  }
  o.version = *o.preimage_from;
  o.preimage_from.reset();
  o.preimage.clear();
  o.reminder_preimage.clear();
  ++o.epoch;
  o.host.clear();
  ++commits_;
  return r;
}

std::optional<StoredObject> MemoryEngine::stored(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(id);
  if (it == objects_.end()) return std::nullopt;
  return StoredObject{it->second.kind, it->second.version, it->second.preimage_from};
}

std::vector<std::string> MemoryEngine::migrated(std::string_view kind, std::int64_t version) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, o] : objects_)
    if (o.kind == kind && o.version == version && o.preimage_from) out.push_back(id);
  return out;
}

void MemoryEngine::fail_commits(int n) {
  std::lock_guard lock(mu_);
  fail_commits_ = n;
}

std::int64_t MemoryEngine::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

}  // namespace vatic::persist
