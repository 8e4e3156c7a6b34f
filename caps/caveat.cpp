#include "caps/caveat.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <iterator>

#include "vat/json.h"
#include "vat/utf8.h"

namespace vatic::caps {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

void put_u64(Bytes& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
std::uint64_t get_u64(std::span<const std::uint8_t> in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}

bool is_method_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxMethodName) return false;
  if (name.front() >= '0' && name.front() <= '9') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Strict UTF-8 (vat/utf8.h) without the control characters U+0000..U+001F
// and U+007F.
bool is_clean_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto d = utf8::decode(s.substr(i));
    if (d.size == 0 || d.code_point < 0x20 || d.code_point == 0x7f) return false;
    i += d.size;
  }
  return true;
}

// token.md: the path caveat's rules; nullopt when valid, else the reason.
std::optional<std::string> path_problem(std::string_view p) {
  if (p.empty()) return "empty path";
  if (p.size() > kMaxCaveatBytes - 1) return "path longer than 1023 bytes";
  if (p.front() == '/') return "path is absolute (it must be relative to the directory)";
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = std::min(p.find('/', start), p.size());
    std::string_view part = p.substr(start, end - start);
    if (part.empty()) return "path has an empty component (\"//\" or a trailing '/')";
    if (part == "." || part == "..") return "path has a '" + std::string(part) + "' component";
    if (!is_clean_utf8(part)) return "path component is not UTF-8 without control characters";
    start = end + 1;
  }
  return std::nullopt;
}

Result<Caveat> parse_methods(std::span<const std::uint8_t> p) {
  if (p.empty()) return refuse("methods caveat without a count");
  std::size_t k = p[0], at = 1;
  Methods m;
  m.names.reserve(std::min<std::size_t>(k, p.size()));
  for (std::size_t i = 0; i < k; ++i) {
    if (at >= p.size()) return refuse("methods caveat ends before its " + std::to_string(k) + " names");
    std::size_t len = p[at++];
    if (p.size() - at < len) return refuse("methods caveat ends inside a name");
    std::string name(p.begin() + at, p.begin() + at + len);
    at += len;
    if (!is_method_name(name)) return refuse("methods caveat has an invalid method name");
    if (!m.names.empty() && !(m.names.back() < name))
      return refuse("methods caveat names are not in strictly ascending order");
    m.names.push_back(std::move(name));
  }
  if (at != p.size()) return refuse("methods caveat has trailing bytes");
  return Caveat{std::move(m)};
}

Result<Caveat> fixed_size(std::span<const std::uint8_t> p, std::size_t size, const char* name) {
  return refuse(std::string(name) + " caveat has " + std::to_string(p.size()) + " payload bytes, not " +
                std::to_string(size));
}

template <class T>
void keep_min(std::optional<T>& slot, T v) {
  slot = slot ? std::min(*slot, v) : v;
}

std::string hex(const VatKey& k) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (auto b : k) s += {kDigits[b >> 4], kDigits[b & 15]};
  return s;
}

std::string time_text(std::int64_t t) {
  std::string out = std::to_string(t);
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  char buf[64];
  if (gmtime_r(&tt, &tm) && tm.tm_year >= -1900 && tm.tm_year <= 8099 &&
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
    out += std::string(" (") + buf + ")";
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

}  // namespace

Result<Caveat> parse_caveat(std::span<const std::uint8_t> b) {
  if (b.empty()) return refuse("empty caveat");
  if (b.size() > kMaxCaveatBytes) return refuse("caveat longer than 1024 bytes");
  auto p = b.subspan(1);
  switch (static_cast<CaveatType>(b[0])) {
    case CaveatType::expires:
      if (p.size() != 8) return fixed_size(p, 8, "expires");
      return Caveat{Expires{static_cast<std::int64_t>(get_u64(p))}};
    case CaveatType::not_before:
      if (p.size() != 8) return fixed_size(p, 8, "not_before");
      return Caveat{NotBefore{static_cast<std::int64_t>(get_u64(p))}};
    case CaveatType::holder: {
      if (p.size() != kVatKeyBytes) return fixed_size(p, kVatKeyBytes, "holder");
      Holder h;
      std::copy(p.begin(), p.end(), h.vat.begin());
      return Caveat{h};
    }
    case CaveatType::methods: return parse_methods(p);
    case CaveatType::path: {
      std::string path(p.begin(), p.end());
      if (auto why = path_problem(path)) return refuse("path caveat: " + *why);
      return Caveat{Path{std::move(path)}};
    }
    case CaveatType::ops:
      if (p.size() != 1) return fixed_size(p, 1, "ops");
      if ((p[0] & ~kAllFsOps) != 0) return refuse("ops caveat has bits outside the known operations");
      return Caveat{Ops{p[0]}};
    case CaveatType::max_bytes:
      if (p.size() != 8) return fixed_size(p, 8, "max_bytes");
      return Caveat{MaxBytes{get_u64(p)}};
  }
  // token.md: an unknown caveat makes the token invalid (fail closed).
  return refuse("unknown caveat type " + std::to_string(b[0]));
}

Bytes encode_caveat(const Caveat& c) {
  auto out = std::visit(
      Overloaded{
          [](const Expires& e) { return caveat_expires(e.at); },
          [](const NotBefore& n) { return caveat_not_before(n.at); },
          [](const Holder& h) { return caveat_holder(h.vat); },
          [](const Methods& m) {
            Bytes b{static_cast<std::uint8_t>(CaveatType::methods), static_cast<std::uint8_t>(m.names.size())};
            for (const auto& n : m.names) {
              b.push_back(static_cast<std::uint8_t>(n.size()));
              b.insert(b.end(), n.begin(), n.end());
            }
            return b;
          },
          [](const Path& p) {
            Bytes b{static_cast<std::uint8_t>(CaveatType::path)};
            b.insert(b.end(), p.path.begin(), p.path.end());
            return b;
          },
          [](const Ops& o) { return caveat_ops(o.ops); },
          [](const MaxBytes& m) { return caveat_max_bytes(m.limit); },
      },
      c);
  // The only check that covers every type: the encoding must read back as the value.
  if (auto back = parse_caveat(out); !back || *back != c)
    throw_error(ErrorKind::failed, "caller bug: invalid caveat value: " + (back ? "not canonical" : back.error()));
  return out;
}

Bytes caveat_expires(std::int64_t t) {
  Bytes b{static_cast<std::uint8_t>(CaveatType::expires)};
  put_u64(b, static_cast<std::uint64_t>(t));
  return b;
}

Bytes caveat_not_before(std::int64_t t) {
  Bytes b{static_cast<std::uint8_t>(CaveatType::not_before)};
  put_u64(b, static_cast<std::uint64_t>(t));
  return b;
}

Bytes caveat_holder(const VatKey& vat) {
  Bytes b{static_cast<std::uint8_t>(CaveatType::holder)};
  b.insert(b.end(), vat.begin(), vat.end());
  return b;
}

Result<Bytes> caveat_methods(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const auto& n : names)
    if (!is_method_name(n)) return refuse("\"" + n + "\" is not a method name");
  if (names.size() > 255) return refuse("more than 255 method names");
  std::size_t size = 2;
  for (const auto& n : names) size += 1 + n.size();
  if (size > kMaxCaveatBytes) return refuse("the method names take more than 1024 bytes");
  return encode_caveat(Methods{std::move(names)});
}

Result<Bytes> caveat_path(std::string_view path) {
  if (auto why = path_problem(path)) return refuse(*why);
  return encode_caveat(Path{std::string(path)});
}

Bytes caveat_ops(FsOps ops) {
  if ((ops & ~kAllFsOps) != 0) throw_error(ErrorKind::failed, "caller bug: ops caveat with unknown bits");
  return {static_cast<std::uint8_t>(CaveatType::ops), ops};
}

Bytes caveat_max_bytes(std::uint64_t limit) {
  Bytes b{static_cast<std::uint8_t>(CaveatType::max_bytes)};
  put_u64(b, limit);
  return b;
}

std::string Caveats::joined_path() const { return join(paths, "/"); }

// token.md: combining.
Result<Caveats> parse_caveats(const std::vector<Bytes>& caveats) {
  Caveats out;
  for (std::size_t i = 0; i < caveats.size(); ++i) {
    auto parsed = parse_caveat(caveats[i]);
    if (!parsed) return refuse("caveat " + std::to_string(i + 1) + ": " + parsed.error());
    std::visit(
        Overloaded{
            [&](const Expires& e) { keep_min(out.expires, e.at); },
            [&](const NotBefore& n) { out.not_before = out.not_before ? std::max(*out.not_before, n.at) : n.at; },
            [&](const Holder& h) {
              if (std::find(out.holders.begin(), out.holders.end(), h.vat) == out.holders.end())
                out.holders.push_back(h.vat);
            },
            [&](const Methods& m) {
              if (!out.methods) {
                out.methods = m.names;
                return;
              }
              std::vector<std::string> both;
              std::set_intersection(out.methods->begin(), out.methods->end(), m.names.begin(), m.names.end(),
                                    std::back_inserter(both));
              out.methods = std::move(both);
            },
            [&](const Path& p) { out.paths.push_back(p.path); },
            [&](const Ops& o) { out.ops = static_cast<FsOps>(out.ops.value_or(kAllFsOps) & o.ops); },
            [&](const MaxBytes& m) { keep_min(out.max_bytes, m.limit); },
        },
        *parsed);
  }
  return out;
}

std::optional<std::string> check_time_window(std::optional<std::int64_t> not_before,
                                             std::optional<std::int64_t> expires, std::int64_t now, std::int64_t skew) {
  skew = std::max<std::int64_t>(skew, 0);
  // Saturating: an expiry near INT64_MAX plus the skew must stay "far future",
  // never wrap to the past (and the same for a not_before near INT64_MIN).
  auto plus = [](std::int64_t a, std::int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; };
  // token.md, Redeeming step 7 and Clock skew: valid while now < expires + skew ...
  if (expires && now >= plus(*expires, skew)) return "refused: token expired";
  // ... and while now + skew >= not_before.
  if (not_before && plus(now, skew) < *not_before) return "refused: token not yet valid";
  return std::nullopt;
}

std::optional<std::string> check_time(const Caveats& c, std::int64_t now, std::int64_t skew) {
  return check_time_window(c.not_before, c.expires, now, skew);
}

std::optional<std::string> check_holder(const Caveats& c, const std::optional<VatKey>& redeemer) {
  if (c.holders.empty()) return std::nullopt;
  if (!redeemer) return "refused: token is bound to another holder";
  for (const auto& h : c.holders)
    if (h != *redeemer) return "refused: token is bound to another holder";
  return std::nullopt;
}

bool method_allowed(const Caveats& c, std::string_view method) {
  if (!c.methods) return true;
  return std::binary_search(c.methods->begin(), c.methods->end(), method);
}

std::string describe(const Caveats& c, const VatKeyText& vat_text) {
  auto spell = [&](const VatKey& k) { return vat_text ? vat_text(k) : hex(k); };
  std::vector<std::string> lines;
  if (c.expires) lines.push_back("expires " + time_text(*c.expires));
  if (c.not_before) lines.push_back("not before " + time_text(*c.not_before));
  for (const auto& h : c.holders) lines.push_back("holder " + spell(h));
  if (c.holders.size() > 1) lines.push_back("(several different holders: nobody can redeem it)");
  if (c.methods) lines.push_back("methods " + (c.methods->empty() ? std::string("none") : join(*c.methods, ",")));
  if (!c.paths.empty()) lines.push_back("path " + c.joined_path());
  if (c.ops) lines.push_back("ops " + fs_ops_to_string(*c.ops));
  if (c.max_bytes) lines.push_back("max_bytes " + std::to_string(*c.max_bytes));
  return lines.empty() ? "no caveats" : join(lines, "\n");
}

std::string describe_json(const Caveats& c, const VatKeyText& vat_text) {
  auto spell = [&](const VatKey& k) { return vat_text ? vat_text(k) : hex(k); };
  auto list = [](const std::vector<std::string>& items) {
    boost::json::array out;
    for (const auto& s : items) out.push_back(json_text(s));
    return out;
  };
  boost::json::object o;
  if (c.expires) o["expires"] = *c.expires;
  if (c.not_before) o["not_before"] = *c.not_before;
  if (!c.holders.empty()) {
    std::vector<std::string> hs;
    for (const auto& h : c.holders) hs.push_back(spell(h));
    o["holders"] = list(hs);
  }
  if (c.methods) o["methods"] = list(*c.methods);
  if (!c.paths.empty()) o["path"] = json_text(c.joined_path());
  if (c.ops) o["ops"] = json_text(fs_ops_to_string(*c.ops));
  if (c.max_bytes) o["max_bytes"] = *c.max_bytes;
  return json_write(o);
}

}  // namespace vatic::caps
