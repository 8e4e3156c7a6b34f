#include "vat/internal/arg_summary.h"

#include <charconv>

#include "vat/message.h"
#include "vat/utf8.h"
#include "vat/value.h"

namespace vatic::detail {

namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
// What one text argument of a by-name message may show before it is cut.
constexpr std::size_t kTextShown = 24;

std::size_t format_text(const unsigned char* raw, char* out, std::size_t cap) noexcept {
  std::size_t n = std::min<std::size_t>(raw[0], cap);
  std::memcpy(out, raw + 1, n);
  return n;
}

// A by-name message's Values, kept as tagged bytes: one tag, then what the
// summary needs of the value (a number, a text prefix, a size, a label).
enum Tag : unsigned char {
  kEnd,
  kCut,
  kNull,
  kFalse,
  kTrue,
  kInt,
  kReal,
  kText,
  kBytes,
  kList,
  kRecord,
  kRef,
  kPromise,
  kError
};

constexpr std::size_t kLabelShown = 16;

// Appends `v` at `p` if it fits before `end` with one byte to spare (for the
// closing tag); false if it did not.
bool capture_value(const Value& v, unsigned char*& p, unsigned char* end) noexcept {
  auto room = static_cast<std::size_t>(end - p);
  auto put = [&](Tag t, const void* data, std::size_t n) {
    if (1 + n + 1 > room) return false;
    *p = t;
    if (n) std::memcpy(p + 1, data, n);
    p += 1 + n;
    return true;
  };
  auto put_size = [&](Tag t, std::size_t n) {
    auto v32 = static_cast<std::uint32_t>(std::min<std::size_t>(n, 0xffffffffu));
    return put(t, &v32, sizeof v32);
  };
  // A text prefix: its kept length, whether it was cut, the bytes.
  auto put_text = [&](Tag t, std::string_view s, std::size_t shown) {
    if (room < 4 + 1) return false;
    std::size_t kept = std::min({s.size(), shown, room - 4});
    unsigned char head[2] = {static_cast<unsigned char>(kept), static_cast<unsigned char>(kept < s.size())};
    *p = t;
    std::memcpy(p + 1, head, 2);
    if (kept) std::memcpy(p + 3, s.data(), kept);
    p += 3 + kept;
    return true;
  };
  switch (v.type()) {
    case Value::Type::null: return put(kNull, nullptr, 0);
    case Value::Type::boolean: return put(v.as_bool() ? kTrue : kFalse, nullptr, 0);
    case Value::Type::integer: {
      std::int64_t i = v.as_int();
      return put(kInt, &i, sizeof i);
    }
    case Value::Type::real: {
      double d = v.as_double();
      return put(kReal, &d, sizeof d);
    }
    case Value::Type::text: return put_text(kText, v.as_text(), kTextShown);
    case Value::Type::bytes: return put_size(kBytes, v.as_bytes().size());
    case Value::Type::list: return put_size(kList, v.as_list().size());
    case Value::Type::record: return put_text(kRecord, v.as_record().label, kLabelShown);
    case Value::Type::reference: return put(v.as_capability().promise ? kPromise : kRef, nullptr, 0);
    case Value::Type::error: {
      auto k = static_cast<unsigned char>(v.as_error().kind);
      return put(kError, &k, 1);
    }
  }
  return false;
}

std::size_t format_values(const unsigned char* raw, char* out, std::size_t cap) noexcept {
  SummaryOut o(out, cap);
  const unsigned char* p = raw;
  const unsigned char* end = raw + ArgCapture::kRaw;
  auto size_of = [](const unsigned char* at) {
    std::uint32_t n;
    std::memcpy(&n, at, sizeof n);
    return n;
  };
  while (p < end && *p != kEnd) {
    o.separator();
    Tag t = static_cast<Tag>(*p++);
    switch (t) {
      case kCut: o.put(kEllipsis); return o.size();
      case kNull: o.put("null"); break;
      case kFalse: o.put("false"); break;
      case kTrue: o.put("true"); break;
      case kInt: {
        std::int64_t i;
        std::memcpy(&i, p, sizeof i);
        o.put_int(i);
        p += sizeof i;
        break;
      }
      case kReal: {
        double d;
        std::memcpy(&d, p, sizeof d);
        o.put_double(d);
        p += sizeof d;
        break;
      }
      case kText:
      case kRecord: {
        std::string_view s(reinterpret_cast<const char*>(p + 2), p[0]);
        if (t == kText) {
          o.put_quoted(s, p[1] != 0);
        } else {
          o.put("<record ");
          o.put(s);
          if (p[1]) o.put(kEllipsis);
          o.put(">");
        }
        p += 2 + p[0];
        break;
      }
      case kBytes:
      case kList:
        o.put(t == kBytes ? "<bytes " : "<list ");
        o.put_uint(size_of(p));
        o.put(">");
        p += sizeof(std::uint32_t);
        break;
      case kRef: o.put("<ref>"); break;
      case kPromise: o.put("<promise>"); break;
      case kError:
        o.put("<error ");
        o.put(to_string(static_cast<ErrorKind>(*p++)));
        o.put(">");
        break;
      default: return o.size();  // kEnd, or bytes this code never wrote
    }
  }
  return o.size();
}

}  // namespace

void SummaryOut::put(std::string_view s) noexcept {
  if (full_) return;
  // Room is kept for the ellipsis that marks a cut.
  std::size_t limit = cap_ >= kEllipsis.size() ? cap_ - kEllipsis.size() : 0;
  if (n_ + s.size() <= limit) {
    if (!s.empty()) std::memcpy(p_ + n_, s.data(), s.size());
    n_ += s.size();
    return;
  }
  std::string_view head = utf8::whole_prefix(s, limit - std::min(limit, n_));
  if (!head.empty()) std::memcpy(p_ + n_, head.data(), head.size());
  n_ += head.size();
  if (n_ + kEllipsis.size() <= cap_) {
    std::memcpy(p_ + n_, kEllipsis.data(), kEllipsis.size());
    n_ += kEllipsis.size();
  }
  full_ = true;
}

void SummaryOut::put_quoted(std::string_view s, bool cut) noexcept {
  if (cut) s = utf8::drop_cut_tail(s);
  put("\"");
  for (std::size_t i = 0; i < s.size() && !full_;) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (std::size_t n = utf8::decode(s.substr(i)).size) {
        put(s.substr(i, n));
        i += n;
        continue;
      }
    }
    char esc[4] = {'\\', 0, 0, 0};
    std::size_t len = 2;
    switch (c) {
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          esc[0] = static_cast<char>(c);
          len = 1;
        } else {
          constexpr char kHex[] = "0123456789abcdef";
          esc[1] = 'x';
          esc[2] = kHex[c >> 4];
          esc[3] = kHex[c & 15];
          len = 4;
        }
    }
    put(std::string_view(esc, len));
    ++i;
  }
  if (cut) put(kEllipsis);
  put("\"");
}

void SummaryOut::put_int(std::int64_t v) noexcept {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  put(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

void SummaryOut::put_uint(std::uint64_t v) noexcept {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  put(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

void SummaryOut::put_double(double v) noexcept {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  put(std::string_view(buf, r.ec == std::errc{} ? static_cast<std::size_t>(r.ptr - buf) : 0));
}

void summarize_value(const Value& v, SummaryOut& out) {
  switch (v.type()) {
    case Value::Type::null: out.put("null"); break;
    case Value::Type::boolean: out.put(v.as_bool() ? "true" : "false"); break;
    case Value::Type::integer: out.put_int(v.as_int()); break;
    case Value::Type::real: out.put_double(v.as_double()); break;
    case Value::Type::text: {
      const std::string& s = v.as_text();
      out.put_quoted(std::string_view(s).substr(0, kTextShown), s.size() > kTextShown);
      break;
    }
    case Value::Type::bytes:
      out.put("<bytes ");
      out.put_uint(v.as_bytes().size());
      out.put(">");
      break;
    case Value::Type::list:
      out.put("<list ");
      out.put_uint(v.as_list().size());
      out.put(">");
      break;
    case Value::Type::record:
      out.put("<record ");
      out.put(std::string_view(v.as_record().label).substr(0, kTextShown));
      out.put(">");
      break;
    case Value::Type::reference: out.put(v.as_capability().promise ? "<promise>" : "<ref>"); break;
    case Value::Type::error:
      out.put("<error ");
      out.put(to_string(v.as_error().kind));
      out.put(">");
      break;
  }
}

void summarize_value_text(const Value& v, char* out, std::size_t cap, std::size_t* n) noexcept {
  SummaryOut o(out, cap);
  summarize_value(v, o);
  *n = o.size();
}

void capture_text(ArgCapture& c, std::string_view text) noexcept {
  std::size_t n = std::min(text.size(), ArgCapture::kRaw - 1);
  c.raw[0] = static_cast<unsigned char>(n);
  if (n) std::memcpy(c.raw + 1, text.data(), n);
  c.format = &format_text;
}

std::size_t format_capture(const ArgCapture& c, char* out, std::size_t cap) noexcept {
  return c.format ? c.format(c.raw, out, cap) : 0;
}

void Message::capture_args(ArgCapture& out) const noexcept { out.format = nullptr; }

void DynamicMessage::capture_args(ArgCapture& c) const noexcept {
  if (args_.empty()) {
    c.format = nullptr;
    return;
  }
  unsigned char* p = c.raw;
  unsigned char* end = c.raw + ArgCapture::kRaw;
  bool all = true;
  for (const Value& a : args_)
    if (!capture_value(a, p, end)) {
      all = false;
      break;
    }
  *p = all ? kEnd : kCut;  // capture_value always leaves this byte
  c.format = &format_values;
}

}  // namespace vatic::detail
