// What every `vatic` subcommand shares: the exit-code contract, one-line
// failure messages, the default store location, reading a sturdy ref given as
// text or as a file, times given as durations or RFC 3339, and printable text.
// (JSON output: vat/json.h.)
//
// Exit codes (a contract scripts read): 0 success; 2 usage; 3 refused (a bad,
// forged, revoked or expired token, a denied operation or path); 4 the vat is
// unreachable or does not hold the key its id names; 1 anything else.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vat/error.h"

namespace vatic::cli {

enum ExitCode : int { kOk = 0, kOther = 1, kUsage = 2, kRefused = 3, kUnreachable = 4 };

// A failure that ends the command with `code` and prints `what()` on stderr.
class CliError : public std::runtime_error {
 public:
  CliError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// The exit code an Error from a vat or a peer maps to: reasons starting with
// "refused:" are refusals (spec/sturdyref.md), `disconnected` means the vat
// could not be reached or authenticated.
int exit_code_for(const Error& e);

// --store, else $VATIC_STORE, else $XDG_DATA_HOME/vatic, else ~/.local/share/vatic.
std::filesystem::path store_dir(const std::string& flag);

// A sturdy ref given on the command line: the URI itself, or the path of a
// file holding it (such as STORE/admin.ref).
std::string read_ref_arg(const std::string& arg);

// "90s", "15m", "1h", "7d" as seconds; nullopt if it is not one.
std::optional<std::int64_t> parse_duration_seconds(std::string_view text);
// "90s", "15m", "1h", "7d" (from `now`) or RFC 3339 ("2026-12-01T10:00:00Z",
// with Z or a numeric offset); unix seconds. Nullopt and `why` on bad input.
std::optional<std::int64_t> parse_when(std::string_view text, std::int64_t now, std::string* why);
std::string format_rfc3339(std::int64_t unix_seconds);
std::int64_t unix_now();

// `s` made safe to print on a terminal or as one field of one line: control
// characters (C0, DEL, C1) and bytes that are not UTF-8 become escapes
// (\n, \t, \r, \xHH), and so does a backslash when `escape_backslash` (so that
// the escapes cannot be confused with names that spell them). Names and reasons
// come from the vat we talk to, or from whoever else may create files there: a
// name with a newline would forge listing lines, one with ESC would drive the
// terminal.
std::string printable(std::string_view s, bool escape_backslash = true);

// Prints "vatic: <message>" on stderr, as one line (printable, backslashes kept).
void print_failure(std::string_view message);

// What an exit code means, as `--json` failures name it: "usage", "refused",
// "unreachable" or "failed".
std::string_view failure_kind(int code);

// Reports a failure that ends the command with `code`: print_failure, or with
// `json` one object on stdout and nothing on stderr (scripts read one stream):
//   {"ok":false,"error":{"exit_code":3,"kind":"refused","message":"..."}}
void report_failure(int code, std::string_view message, bool json);

}  // namespace vatic::cli
