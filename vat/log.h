// Logging that the application owns. The libraries never write to stderr or
// stdout on their own: they describe what happened as a LogEvent and hand it
// to the LogSink the application set on the vat (VatOptions::log or
// Vat::set_log_sink), or to nobody. `vatic serve` writes events through
// spdlog; a test may collect them in a vector; an embedding program may drop
// them. There is no global logger (STYLE rule 5): each vat has its own sink.
//
// Cost: a library asks `vat.log_enabled(level)` first, one compare of a byte
// in the Vat, and builds no string unless the answer is yes. A vat without a
// sink answers no for every level.
//
// Text: every string in an event is printable (utf8::printable): whatever a
// peer sent (a method name, a close reason, a caveat path) has had its control
// characters and invalid UTF-8 escaped before it reached the event, so a sink
// may write the message and the fields as they are, one line per event, and a
// newline a peer chose cannot forge a log line.
//
// Event names and their fields are a contract for log readers: spec/log.md
// lists them. Components: "vat", "captp", "sturdyrefs".
//
// Threads: the sink is called on the vat's thread, inside the turn or I/O
// handler that emitted the event; it should be quick and must not destroy the
// vat. An exception thrown by the sink is swallowed (that event is lost, the
// work that emitted it is not).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vatic {

// Ordered: a sink set at `warn` receives warn and error. `off` is a minimum
// level only (no event has it): nothing passes.
enum class LogLevel : std::uint8_t { trace, debug, info, warn, error, off };

// "trace", "debug", "info", "warn", "error", "off".
std::string_view to_string(LogLevel level) noexcept;
// The inverse of to_string (exact, lowercase); nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view text) noexcept;

// One key/value pair of an event. Values are text (numbers written in
// decimal), printable as the header says.
struct LogField {
  std::string key;
  std::string value;
};

struct LogEvent {
  LogLevel level = LogLevel::info;
  std::string_view component;  // "captp", "sturdyrefs", "vat": a string literal
  std::string_view event;      // "session.opened": a string literal (spec/log.md)
  std::string message;         // one human sentence, printable
  std::vector<LogField> fields;

  // The value of field `key`, or null.
  const std::string* field(std::string_view key) const noexcept;
};

using LogSink = std::function<void(const LogEvent&)>;

// What VatOptions::log holds: the sink, and the least level it receives.
struct LogOptions {
  LogSink sink;
  LogLevel min_level = LogLevel::info;
};

}  // namespace vatic
