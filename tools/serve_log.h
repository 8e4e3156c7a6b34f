// ServeLog: where `vatic serve` writes the libraries' log events (vat/log.h,
// spec/log.md) and its own: stderr, through spdlog, one line per event. As
// text, "TIME LEVEL COMPONENT EVENT: MESSAGE key=value ..."; with --log-json,
// one JSON object per line (vat/json.h) with the fields time (RFC 3339, UTC,
// milliseconds), level, component, event, message and the event's own fields.
// stdout stays the ref `serve` prints.
//
// Lines are held until start(): the root ref on stdout comes before anything
// on stderr (a reader of both, or a full stderr pipe, sees the ref first), and
// the events of listening and minting wait for it. The destructor writes what
// is still held (serve failed before printing its ref).
//
// Made in cmd_serve (it reads the system clock: OS authority stays in the
// command), before the vat, so that it outlives every event the vat's release
// logs. Threads: the vat's thread (serve runs one vat on the main thread).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vat/log.h"

namespace spdlog {
class logger;
}

namespace vatic::cli {

class ServeLog {
 public:
  // Throws CliError(kUsage) naming the levels when `level` is not one of them.
  ServeLog(std::string_view level, bool json);
  ~ServeLog();
  ServeLog(const ServeLog&) = delete;
  ServeLog& operator=(const ServeLog&) = delete;

  LogLevel min_level() const noexcept { return min_; }
  // What VatOptions::log takes: this log as the vat's sink.
  LogOptions options();
  // Writes one event (if its level passes), or holds it until start().
  void write(const LogEvent& e);
  // Writes the held lines; later events are written at once.
  void start();

 private:
  std::string line(const LogEvent& e) const;

  LogLevel min_;
  bool json_;
  bool holding_ = true;
  std::vector<std::pair<LogLevel, std::string>> held_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace vatic::cli
