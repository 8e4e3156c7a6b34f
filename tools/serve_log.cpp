#include "tools/serve_log.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <boost/json/object.hpp>
#include <chrono>
#include <ctime>
#include <utility>

#include <fmt/format.h>

#include "tools/cli_util.h"
#include "vat/json.h"
#include "vat/utf8.h"

namespace vatic::cli {
namespace {

// RFC 3339 in UTC with milliseconds: "2026-05-01T10:00:00.123Z".
std::string now_rfc3339_ms() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

spdlog::level::level_enum spdlog_level(LogLevel l) {
  switch (l) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::off;
}

// A text field value: bare when it is one word, else quoted (its quotes and
// backslashes were escaped by printable, or are escaped here).
std::string text_value(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

ServeLog::ServeLog(std::string_view level, bool json) : json_(json) {
  auto parsed = parse_log_level(level);
  if (!parsed)
    throw CliError(kUsage,
                   fmt::format("--log-level must be trace, debug, info, warn, error or off, not {}", printable(level)));
  min_ = *parsed;
  // The line is made whole here (time included, the same in both forms), so
  // the pattern is the message alone. stderr is unbuffered: a line is out
  // when write() returns.
  logger_ = std::make_shared<spdlog::logger>("vatic-serve", std::make_shared<spdlog::sinks::stderr_sink_st>());
  logger_->set_pattern("%v");
  logger_->set_level(spdlog_level(min_));
  logger_->flush_on(spdlog::level::trace);
}

ServeLog::~ServeLog() {
  try {
    start();
  } catch (...) {
    // Nowhere left to say it: stderr itself failed.
  }
}

void ServeLog::start() {
  holding_ = false;
  for (auto& [level, text] : std::exchange(held_, {})) logger_->log(spdlog_level(level), "{}", text);
}

LogOptions ServeLog::options() {
  return LogOptions{[this](const LogEvent& e) { write(e); }, min_};
}

void ServeLog::write(const LogEvent& e) {
  if (e.level < min_ || e.level == LogLevel::off) return;
  if (holding_)
    held_.emplace_back(e.level, line(e));
  else
    logger_->log(spdlog_level(e.level), "{}", line(e));
}

std::string ServeLog::line(const LogEvent& e) const {
  // Events promise printable text (vat/log.h); printable again here costs
  // little and keeps one careless event from forging a line.
  if (json_) {
    boost::json::object o{{"time", now_rfc3339_ms()},
                          {"level", to_string(e.level)},
                          {"component", json_text(e.component)},
                          {"event", json_text(e.event)},
                          {"message", json_text(e.message)}};
    for (const auto& f : e.fields)
      if (!o.contains(f.key)) o[f.key] = json_text(f.value);
    return json_write(o);
  }
  std::string out = fmt::format("{} {} {} {}: {}", now_rfc3339_ms(), to_string(e.level), utf8::printable(e.component),
                                utf8::printable(e.event), utf8::printable(e.message, false));
  for (const auto& f : e.fields)
    out += fmt::format(" {}={}", utf8::printable(f.key), text_value(utf8::printable(f.value, false)));
  return out;
}

}  // namespace vatic::cli
