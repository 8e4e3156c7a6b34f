// What every engine decides the same way (spec/persistence.md, sections 1, 5
// and 6): whether a stored object may be activated by this code, and the
// upper bound of a key-prefix scan; and what every writer of a reminder
// checks (section 8: a call, a migration step).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vat/result.h"

namespace vatic::persist::internal {

// Refuses an object stored under another kind, or by a newer version of its
// kind (this code cannot read it). An older version is the host's to migrate.
Result<void> check_stored_kind(const std::string& id, std::string_view stored_kind, std::int64_t stored_version,
                               std::string_view kind, std::int64_t version);

// The smallest key greater than every key that starts with `prefix`, or none
// (the prefix is empty or all 0xff bytes).
std::optional<std::string> prefix_end(std::string_view prefix);

// spec/persistence.md 8: throws `failed` unless the name is 1 to 256 bytes,
// the due time 0 to kMaxReminderDueMs and the period 0 to kMaxReminderPeriodMs.
void check_reminder_setting(std::string_view name, std::int64_t due_unix_ms, std::int64_t period_ms);

}  // namespace vatic::persist::internal
