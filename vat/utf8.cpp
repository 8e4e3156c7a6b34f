#include "vat/utf8.h"

namespace vatic::utf8 {

std::string to_valid(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto d = decode(s.substr(i));
    if (d.size == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    } else {
      out.append(s.substr(i, d.size));
      i += d.size;
    }
  }
  return out;
}

std::string printable(std::string_view s, bool escape_backslash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    Decoded d = c >= 0x80 ? decode(s.substr(i)) : Decoded{};
    if (c == '\\') {
      out += escape_backslash ? "\\\\" : "\\";
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      out += s[i++];
    } else if (d.size > 0 && !is_control(d.code_point)) {
      out.append(s.substr(i, d.size));
      i += d.size;
    } else {
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      }
      ++i;
    }
  }
  return out;
}

}  // namespace vatic::utf8
