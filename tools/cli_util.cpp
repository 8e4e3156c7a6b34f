#include "tools/cli_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "vat/json.h"
#include "vat/utf8.h"

namespace vatic::cli {

int exit_code_for(const Error& e) {
  if (e.reason.rfind("refused:", 0) == 0) return kRefused;
  if (e.kind == ErrorKind::disconnected) return kUnreachable;
  return kOther;
}

std::filesystem::path store_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* s = std::getenv("VATIC_STORE"); s && *s) return s;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::filesystem::path(x) / "vatic";
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw CliError(kUsage, "no store: pass --store DIR (HOME is not set)");
  return std::filesystem::path(home) / ".local/share/vatic";
}

std::string read_ref_arg(const std::string& arg) {
  if (arg.rfind("vatic://", 0) == 0) return arg;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(arg, ec))
    throw CliError(kUsage, fmt::format("{:?} is neither a vatic:// sturdy ref nor a file holding one", arg));
  std::ifstream in(arg);
  std::string text;
  std::getline(in, text);
  if (!in && !in.eof()) throw CliError(kOther, fmt::format("cannot read {}", arg));
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

bool read_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::optional<std::int64_t> parse_duration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t n = 0;
  if (!read_int(text.substr(0, text.size() - 1), n) || n < 0) return std::nullopt;
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  if (n > INT64_MAX / unit / 2) return std::nullopt;
  return n * unit;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':')
    return std::nullopt;
  std::int64_t Y, M, D, h, m, s;
  if (!read_int(t.substr(0, 4), Y) || !read_int(t.substr(5, 2), M) || !read_int(t.substr(8, 2), D) ||
      !read_int(t.substr(11, 2), h) || !read_int(t.substr(14, 2), m) || !read_int(t.substr(17, 2), s))
    return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) return std::nullopt;
  std::string_view rest = t.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    std::size_t i = 1;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
    if (i == 1) return std::nullopt;
    rest = rest.substr(i);
  }
  std::int64_t offset = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    std::int64_t oh, om;
    if (!read_int(rest.substr(1, 2), oh) || !read_int(rest.substr(4, 2), om) || oh > 23 || om > 59) return std::nullopt;
    offset = (oh * 3600 + om * 60) * (rest[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = static_cast<int>(Y - 1900);
  tm.tm_mon = static_cast<int>(M - 1);
  tm.tm_mday = static_cast<int>(D);
  tm.tm_hour = static_cast<int>(h);
  tm.tm_min = static_cast<int>(m);
  tm.tm_sec = static_cast<int>(std::min<std::int64_t>(s, 59));  // a leap second counts as :59
  std::time_t secs = timegm(&tm);
  if (tm.tm_mday != D) return std::nullopt;  // timegm normalised an impossible date (Feb 30)
  return static_cast<std::int64_t>(secs) - offset;
}

}  // namespace

std::optional<std::int64_t> parse_duration_seconds(std::string_view text) { return parse_duration(text); }

std::optional<std::int64_t> parse_when(std::string_view text, std::int64_t now, std::string* why) {
  if (auto d = parse_duration(text)) return now + *d;
  if (auto t = parse_rfc3339(text)) return *t;
  if (why)
    *why =
        fmt::format("{:?} is neither a duration (90s, 15m, 1h, 7d) nor an RFC 3339 time (2026-12-01T10:00:00Z)", text);
  return std::nullopt;
}

std::string format_rfc3339(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

namespace {

// The length of the UTF-8 character at the start of `s` if it is valid and
// not a C1 control (U+0080..U+009F), else 0.
std::size_t printable_utf8_length(std::string_view s) {
  auto d = utf8::decode(s);
  return d.size > 0 && !utf8::is_control(d.code_point) ? d.size : 0;
}

}  // namespace

std::string printable(std::string_view s, bool escape_backslash) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += escape_backslash ? "\\\\" : "\\";
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      out += s[i++];
    } else if (std::size_t n = c >= 0x80 ? printable_utf8_length(s.substr(i)) : 0; n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += c == '\n'   ? std::string("\\n")
             : c == '\t' ? std::string("\\t")
             : c == '\r' ? std::string("\\r")
                         : fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

void print_failure(std::string_view message) { fmt::print(stderr, "vatic: {}\n", printable(message, false)); }

std::string_view failure_kind(int code) {
  switch (code) {
    case kUsage: return "usage";
    case kRefused: return "refused";
    case kUnreachable: return "unreachable";
    default: return "failed";
  }
}

void report_failure(int code, std::string_view message, bool json) {
  if (!json) return print_failure(message);
  print_json(boost::json::object{
      {"ok", false},
      {"error",
       boost::json::object{{"exit_code", code}, {"kind", failure_kind(code)}, {"message", json_text(message)}}}});
  std::fflush(stdout);
}

}  // namespace vatic::cli
