#include "persist/migration.h"

#include "persist/internal/engine_common.h"
#include "persist/kv.h"
#include "persist/stored_value.h"

namespace vatic::persist {

namespace {
void check_key(std::string_view key) {
  if (key.size() > kMaxKvKey)
    throw_error(ErrorKind::failed, fmt::format("kv key of {} bytes; the limit is {}", key.size(), kMaxKvKey));
}
}  // namespace

std::optional<Value> Migration::get_value(std::string_view key) const {
  check_key(key);
  std::optional<Bytes> b;
  if (auto it = writes_.find(key); it != writes_.end())
    b = it->second;
  else
    b = engine_->get(id_, key);
  if (!b) return std::nullopt;
  Result<Value> v = decode_stored(*b);
  if (!v) throw_error(ErrorKind::failed, fmt::format("migrating {}: kv key {:?}: {}", id_, key, v.error()));
  return std::move(*v);
}

void Migration::put_value(std::string_view key, const Value& value) {
  check_key(key);
  // The same rules as Kv::put_value (spec/persistence.md 1 and 7).
  Bytes b = encode_stored(value);
  if (b.size() > kMaxKvValue)
    throw_error(ErrorKind::failed, fmt::format("migrating {}: kv key {:?}: a stored value of {} bytes; the limit is {}",
                                               id_, key, b.size(), kMaxKvValue));
  write(key, std::move(b));
}

void Migration::erase(std::string_view key) {
  check_key(key);
  write(key, std::nullopt);
}

void Migration::write(std::string_view key, std::optional<Bytes> v) {
  // spec/persistence.md 6: the pre-image is the committed value, taken at the
  // first write of the key by any step.
  if (!preimage_.count(key)) preimage_.emplace(std::string(key), engine_->get(id_, key));
  writes_.insert_or_assign(std::string(key), std::move(v));
}

void Migration::remind(std::string_view name, std::int64_t due_unix_ms, std::int64_t period_ms) {
  internal::check_reminder_setting(name, due_unix_ms, period_ms);
  reminders_.insert_or_assign(std::string(name), ReminderTimes{due_unix_ms, period_ms});
}

void Migration::forget(std::string_view name) {
  if (name.empty() || name.size() > 256) throw_error(ErrorKind::failed, "a reminder's name is 1 to 256 bytes");
  reminders_.insert_or_assign(std::string(name), std::nullopt);
}

std::vector<std::pair<std::string, Value>> Migration::scan_values(std::string_view prefix) const {
  check_key(prefix);
  std::map<std::string, Bytes, std::less<>> merged;
  for (auto& [k, v] : engine_->scan(id_, prefix)) merged.emplace(std::move(k), std::move(v));
  for (auto it = writes_.lower_bound(prefix); it != writes_.end() && it->first.starts_with(prefix); ++it) {
    if (it->second)
      merged.insert_or_assign(it->first, *it->second);
    else
      merged.erase(it->first);
  }
  std::vector<std::pair<std::string, Value>> out;
  for (auto& [k, b] : merged) {
    Result<Value> v = decode_stored(b);
    if (!v) throw_error(ErrorKind::failed, fmt::format("migrating {}: kv key {:?}: {}", id_, k, v.error()));
    out.emplace_back(k, std::move(*v));
  }
  return out;
}

MigrationWrites Migration::take(std::int64_t epoch, std::int64_t from, std::int64_t to) {
  MigrationWrites m{id_, epoch, from, to, {}, {}, {}};
  for (auto& [k, v] : writes_) m.writes.emplace_back(k, std::move(v));
  for (auto& [k, v] : preimage_) m.preimage.emplace_back(k, v);
  for (auto& [name, t] : reminders_) m.reminders.emplace_back(name, t);
  writes_.clear();
  preimage_.clear();
  reminders_.clear();
  return m;
}

}  // namespace vatic::persist
