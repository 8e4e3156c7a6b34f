#include "vat/json.h"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cstdint>
#include <string_view>

#include "vat/utf8.h"

namespace vatic {
namespace {

// Characters a terminal may act on, or that some JSON readers (JavaScript
// before ES2019) take for line ends; U+FFFD so that a replaced byte shows.
bool needs_escape(char32_t c) {
  return c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0xfffd;
}

bool number_char(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'; }

// A real as Boost.JSON wrote it ("5E-1") in its shortest round-trip form
// ("0.5"), always with a '.' or an exponent so that it reads back as a real.
std::string real_text(std::string_view boost_form) {
  double d = 0;
  auto [end, ec] = std::from_chars(boost_form.data(), boost_form.data() + boost_form.size(), d);
  if (ec != std::errc() || end != boost_form.data() + boost_form.size()) return std::string(boost_form);
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

boost::json::string json_text(std::string_view s) { return boost::json::string(utf8::to_valid(s)); }

std::string json_write(const boost::json::value& v) {
  const std::string raw = boost::json::serialize(v);
  const std::string_view text(raw);
  std::string out;
  out.reserve(raw.size());
  bool in_string = false;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {  // an escape Boost.JSON wrote: "\\", "\"", "\n", "\u00XX"
        out.append(text.substr(i, 2));
        i += 2;
      } else if (c == '"') {
        in_string = false;
        out += c;
        ++i;
      } else if (auto d = utf8::decode(text.substr(i)); d.size == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        if (needs_escape(d.code_point))
          out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(d.code_point));
        else
          out.append(text.substr(i, d.size));
        i += d.size;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
      ++i;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t end = i;
      while (end < text.size() && number_char(text[end])) ++end;
      std::string_view number = text.substr(i, end - i);
      if (number.find_first_of(".eE") == std::string_view::npos)
        out.append(number);  // an integer: as written
      else
        out += real_text(number);
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::string json_quote(std::string_view s) { return json_write(boost::json::value(json_text(s))); }

void print_json(const boost::json::value& v) { fmt::print("{}\n", json_write(v)); }

}  // namespace vatic
