// UTF-8: the one decoder every layer uses. Strict, as RFC 3629 says: shortest
// form only, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
// sequence cut short. Text that crosses a trust boundary (close reasons,
// caveat paths and method names, recorder arguments, what the CLI prints) is
// checked or cleaned with these functions and no other.
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vatic::utf8 {

// One decoded character: its code point and how many bytes it took. `size`
// is 0 when the bytes at the start are not a valid sequence (or `s` is empty).
struct Decoded {
  char32_t code_point = 0;
  std::size_t size = 0;
};

// The character at the start of `s`.
constexpr Decoded decode(std::string_view s) noexcept {
  if (s.empty()) return {};
  auto b = static_cast<unsigned char>(s[0]);
  if (b < 0x80) return {b, 1};
  std::size_t n;
  char32_t cp, min;
  if (b >= 0xc2 && b <= 0xdf)
    n = 2, cp = b & 0x1f, min = 0x80;
  else if (b >= 0xe0 && b <= 0xef)
    n = 3, cp = b & 0x0f, min = 0x800;
  else if (b >= 0xf0 && b <= 0xf4)
    n = 4, cp = b & 0x07, min = 0x10000;
  else
    return {};
  if (s.size() < n) return {};
  for (std::size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[k]);
    if ((c & 0xc0) != 0x80) return {};
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
  return {cp, n};
}

// Whether all of `s` is valid UTF-8.
constexpr bool is_valid(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    auto d = decode(s.substr(i));
    if (d.size == 0) return false;
    i += d.size;
  }
  return true;
}
inline bool is_valid(std::span<const std::uint8_t> bytes) noexcept {
  return is_valid(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// Whether `c` is a control character: C0, DEL or C1.
constexpr bool is_control(char32_t c) noexcept { return c < 0x20 || (c >= 0x7f && c <= 0x9f); }

// `s` without a character cut short at its end (text cut at an arbitrary byte
// may end inside one): the lead byte and its continuation bytes are dropped.
constexpr std::string_view drop_cut_tail(std::string_view s) noexcept {
  // At most three continuation bytes follow a lead byte.
  for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    auto b = static_cast<unsigned char>(s[s.size() - back]);
    if ((b & 0xc0) == 0x80) continue;
    std::size_t wanted = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return wanted > back ? s.substr(0, s.size() - back) : s;
  }
  return s;
}

// The longest prefix of `s` of at most `max_bytes` that does not cut a
// character in two (a cut sequence at the end is dropped whole).
constexpr std::string_view whole_prefix(std::string_view s, std::size_t max_bytes) noexcept {
  return s.size() <= max_bytes ? s : drop_cut_tail(s.substr(0, max_bytes));
}

// `s` with each byte that is not part of a valid sequence replaced by U+FFFD.
std::string to_valid(std::string_view s);

// `s` made safe to print on a terminal or as one field of one line (a log
// line, a listing): control characters (C0, DEL, C1) and bytes that are not
// UTF-8 become escapes (\n, \t, \r, \xHH for a byte, so a C1 character shows
// as its two bytes), and so does a backslash when `escape_backslash` (so that
// the escapes cannot be confused with names that spell them). Text a peer
// chose may hold a newline that would forge a line, or ESC that would drive
// the terminal.
std::string printable(std::string_view s, bool escape_backslash = true);

}  // namespace vatic::utf8
