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

}  // namespace vatic::utf8
