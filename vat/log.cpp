#include "vat/log.h"

#include <array>

namespace vatic {
namespace {

constexpr std::array<std::string_view, 6> kLevelNames = {"trace", "debug", "info", "warn", "error", "off"};

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
  auto i = static_cast<std::size_t>(level);
  return i < kLevelNames.size() ? kLevelNames[i] : "off";
}

std::optional<LogLevel> parse_log_level(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i)
    if (kLevelNames[i] == text) return static_cast<LogLevel>(i);
  return std::nullopt;
}

const std::string* LogEvent::field(std::string_view key) const noexcept {
  for (const auto& f : fields)
    if (f.key == key) return &f.value;
  return nullptr;
}

}  // namespace vatic
