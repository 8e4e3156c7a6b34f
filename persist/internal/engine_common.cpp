#include "persist/internal/engine_common.h"

#include <fmt/format.h>

#include "persist/persistent.h"

namespace vatic::persist::internal {

Result<void> check_stored_kind(const std::string& id, std::string_view stored_kind, std::int64_t stored_version,
                               std::string_view kind, std::int64_t version) {
  if (stored_kind != kind) return refuse(fmt::format("object {} is a {}, not a {}", id, stored_kind, kind));
  if (stored_version > version)
    return refuse(fmt::format("object {} was stored by version {} of kind {}; this code is version {}", id,
                              stored_version, kind, version));
  return {};
}

std::optional<std::string> prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

void check_reminder_setting(std::string_view name, std::int64_t due_unix_ms, std::int64_t period_ms) {
  if (name.empty() || name.size() > 256) throw_error(ErrorKind::failed, "a reminder's name is 1 to 256 bytes");
  if (due_unix_ms < 0 || due_unix_ms > kMaxReminderDueMs)
    throw_error(ErrorKind::failed, fmt::format("a reminder's due time is 0 to {} unix milliseconds, got {}",
                                               kMaxReminderDueMs, due_unix_ms));
  if (period_ms < 0 || period_ms > kMaxReminderPeriodMs)
    throw_error(ErrorKind::failed,
                fmt::format("a reminder's period is 0 to {} milliseconds, got {}", kMaxReminderPeriodMs, period_ms));
}

}  // namespace vatic::persist::internal
