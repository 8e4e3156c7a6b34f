#include "persist/persistent.h"

#include "persist/internal/engine_common.h"
#include "persist/internal/slot.h"
#include "persist/stored_value.h"

namespace vatic::persist {

internal::Slot& Persistent::slot() const {
  if (!slot_)
    throw_error(ErrorKind::disconnected,
                "this activation of a persistent object was passivated or dropped; its state is reached through "
                "its slot (self()), retry is safe");
  return *slot_;
}

const std::string& Persistent::persistent_id() const { return slot().id(); }

detail::HandlerPtr Persistent::slot_handler() const { return detail::HandlerPtr(&slot()); }

void Persistent::on_reminder(const std::string& name) {
  throw_error(ErrorKind::unimplemented,
              fmt::format("persistent object {} has a reminder {:?} but no on_reminder", persistent_id(), name));
}

void Persistent::remind(std::string_view name, std::int64_t due_unix_ms, std::int64_t period_ms) {
  internal::check_reminder_setting(name, due_unix_ms, period_ms);
  slot().write_reminder(name, ReminderTimes{due_unix_ms, period_ms});
}

void Persistent::forget(std::string_view name) { slot().write_reminder(name, std::nullopt); }

void Persistent::crash(std::string reason) {
  internal::Slot& s = slot();
  std::string why = fmt::format(
      "persistent object {} crashed ({}); it restarts from its committed state, retry is safe", s.id(), reason);
  s.crash_requested(std::move(reason));
  throw VatError(ErrorKind::disconnected, std::move(why));
}

namespace {
void check_key(std::string_view key) {
  if (key.size() > kMaxKvKey)
    throw_error(ErrorKind::failed, fmt::format("kv key of {} bytes; the limit is {}", key.size(), kMaxKvKey));
}
}  // namespace

std::optional<Value> Kv::get_value(std::string_view key) const {
  check_key(key);
  std::optional<Bytes> b = owner_->slot().read(key);
  if (!b) return std::nullopt;
  Result<Value> v = decode_stored(*b);
  if (!v)
    throw_error(ErrorKind::failed,
                fmt::format("persistent object {}: kv key {:?}: {}", owner_->slot().id(), key, v.error()));
  return std::move(*v);
}

void Kv::put_value(std::string_view key, const Value& value) {
  check_key(key);
  Bytes b = encode_stored(value);
  if (b.size() > kMaxKvValue)
    throw_error(ErrorKind::failed, fmt::format("persistent object {}: kv key {:?}: a stored value of {} bytes; the "
                                               "limit is {}",
                                               owner_->slot().id(), key, b.size(), kMaxKvValue));
  owner_->slot().write(key, std::move(b));
}

void Kv::erase(std::string_view key) {
  check_key(key);
  owner_->slot().write(key, std::nullopt);
}

std::vector<std::pair<std::string, Value>> Kv::scan_values(std::string_view prefix) const {
  check_key(prefix);
  std::vector<std::pair<std::string, Value>> out;
  for (auto& [k, b] : owner_->slot().scan(prefix)) {
    Result<Value> v = decode_stored(b);
    if (!v)
      throw_error(ErrorKind::failed,
                  fmt::format("persistent object {}: kv key {:?}: {}", owner_->slot().id(), k, v.error()));
    out.emplace_back(std::move(k), std::move(*v));
  }
  return out;
}

}  // namespace vatic::persist
