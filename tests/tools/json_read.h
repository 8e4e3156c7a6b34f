// Reading what `vatic ... --json` prints, in tests: boost::json::parse (strict
// RFC 8259, UTF-8 checked), and accessors that answer null or nullopt instead
// of throwing, so that a test can EXPECT on a missing field and go on.
// Plain functions; any thread.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace vatic::test {

// One JSON document (surrounding whitespace allowed), or nullopt.
inline std::optional<boost::json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

// The member `key` of an object, or null when `v` is no object or lacks it.
inline const boost::json::value* member(const boost::json::value& v, std::string_view key) {
  const auto* o = v.if_object();
  return o ? o->if_contains(key) : nullptr;
}

// The string member `key`, or nullopt.
inline std::optional<std::string> str(const boost::json::value& v, std::string_view key) {
  const auto* m = member(v, key);
  if (!m || !m->is_string()) return std::nullopt;
  return std::string(m->get_string());
}

// The number member `key` (integer or real), or nullopt.
inline std::optional<double> number(const boost::json::value& v, std::string_view key) {
  const auto* m = member(v, key);
  if (!m || !m->is_number()) return std::nullopt;
  return m->to_number<double>();
}

// Whether the member `key` is `true`.
inline bool is_true(const boost::json::value& v, std::string_view key) {
  const auto* m = member(v, key);
  return m && m->is_bool() && m->get_bool();
}

}  // namespace vatic::test
