#include "persist/stored_value.h"

#include <bit>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "vat/utf8.h"

namespace vatic::persist {

namespace {

// spec/persistence.md, section 7.
constexpr std::uint8_t kFormat = 1;
constexpr int kMaxDepth = 64;
constexpr std::uint64_t kMaxLen = std::uint64_t{1} << 32;
enum Tag : std::uint8_t {
  kNull = 0,
  kFalse = 1,
  kTrue = 2,
  kInteger = 3,
  kReal = 4,
  kText = 5,
  kBytes = 6,
  kList = 7,
  kRecord = 8,
  kError = 9,
};

// The encoder applies the decoder's rules (spec/persistence.md 7): a value
// the decoder would refuse fails its put, not every later read of the key.
void put_len(Bytes& out, std::uint64_t n) {
  if (n > kMaxLen) throw_error(ErrorKind::failed, "a stored value holds a length or count over 2^32");
  do {
    std::uint8_t b = n & 0x7f;
    n >>= 7;
    out.push_back(n ? (b | 0x80) : b);
  } while (n);
}

void put_u64(Bytes& out, std::uint64_t x) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}

void put_text(Bytes& out, std::string_view s, std::string_view what) {
  if (!utf8::is_valid(s))
    throw_error(ErrorKind::failed, fmt::format("a stored value's {} is not UTF-8 (spec/persistence.md 7)", what));
  put_len(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void encode(Bytes& out, const Value& v, int depth) {
  if (depth > kMaxDepth) throw_error(ErrorKind::failed, "a stored value is nested more than 64 deep");
  switch (v.type()) {
    case Value::Type::null: out.push_back(kNull); return;
    case Value::Type::boolean: out.push_back(v.as_bool() ? kTrue : kFalse); return;
    case Value::Type::integer:
      out.push_back(kInteger);
      put_u64(out, static_cast<std::uint64_t>(v.as_int()));
      return;
    case Value::Type::real:
      out.push_back(kReal);
      put_u64(out, std::bit_cast<std::uint64_t>(v.as_double()));
      return;
    case Value::Type::text:
      out.push_back(kText);
      put_text(out, v.as_text(), "text");
      return;
    case Value::Type::bytes:
      out.push_back(kBytes);
      put_len(out, v.as_bytes().size());
      out.insert(out.end(), v.as_bytes().begin(), v.as_bytes().end());
      return;
    case Value::Type::list:
      out.push_back(kList);
      put_len(out, v.as_list().size());
      for (const Value& e : v.as_list()) encode(out, e, depth + 1);
      return;
    case Value::Type::record:
      out.push_back(kRecord);
      put_text(out, v.as_record().label, "record label");
      put_len(out, v.as_record().fields.size());
      for (const auto& [name, field] : v.as_record().fields) {
        put_text(out, name, "field name");
        encode(out, field, depth + 1);
      }
      return;
    case Value::Type::error:
      if (v.as_error().kind > ErrorKind::unimplemented)
        throw_error(ErrorKind::failed, "a stored value holds an error kind out of range");
      out.push_back(kError);
      out.push_back(static_cast<std::uint8_t>(v.as_error().kind));
      put_text(out, v.as_error().reason, "error reason");
      return;
    case Value::Type::reference:
      throw_error(ErrorKind::failed,
                  "a stored value cannot hold a reference or a promise (spec/persistence.md, section 7)");
  }
  throw_error(ErrorKind::failed, "a stored value of an unknown type");
}

// Reads one encoded value; every failure is a refusal naming what was wrong.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> b) : b_(b) {}

  bool at_end() const noexcept { return pos_ == b_.size(); }
  std::size_t pos() const noexcept { return pos_; }

  Result<std::uint8_t> byte() {
    if (pos_ >= b_.size()) return refuse("truncated");
    return b_[pos_++];
  }
  Result<std::uint64_t> len() {
    std::uint64_t n = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      Result<std::uint8_t> b = byte();
      if (!b) return refuse(b.error());
      n |= std::uint64_t{*b & 0x7fu} << shift;
      if (!(*b & 0x80)) {
        if (n > kMaxLen) return refuse("a length over 2^32");
        return n;
      }
    }
    return refuse("a length over 2^32");
  }
  Result<std::uint64_t> u64() {
    if (b_.size() - pos_ < 8) return refuse("truncated");
    std::uint64_t x = 0;
    for (int i = 0; i < 8; ++i) x |= std::uint64_t{b_[pos_ + i]} << (8 * i);
    pos_ += 8;
    return x;
  }
  Result<std::span<const std::uint8_t>> raw() {
    Result<std::uint64_t> n = len();
    if (!n) return refuse(n.error());
    if (b_.size() - pos_ < *n) return refuse("truncated");
    auto s = b_.subspan(pos_, *n);
    pos_ += *n;
    return s;
  }
  Result<std::string> text() {
    auto r = raw();
    if (!r) return refuse(r.error());
    if (!utf8::is_valid(*r)) return refuse("text that is not UTF-8");
    return std::string(r->begin(), r->end());
  }

  Result<Value> value(int depth) {
    if (depth > kMaxDepth) return refuse("nested more than 64 deep");
    Result<std::uint8_t> tag = byte();
    if (!tag) return refuse(tag.error());
    switch (*tag) {
      case kNull: return Value();
      case kFalse: return Value(false);
      case kTrue: return Value(true);
      case kInteger: {
        auto x = u64();
        if (!x) return refuse(x.error());
        return Value(static_cast<std::int64_t>(*x));
      }
      case kReal: {
        auto x = u64();
        if (!x) return refuse(x.error());
        return Value(std::bit_cast<double>(*x));
      }
      case kText: {
        auto t = text();
        if (!t) return refuse(t.error());
        return Value(std::move(*t));
      }
      case kBytes: {
        auto r = raw();
        if (!r) return refuse(r.error());
        return Value(Bytes(r->begin(), r->end()));
      }
      case kList: return list(depth);
      case kRecord: return record(depth);
      case kError: {
        auto k = byte();
        if (!k) return refuse(k.error());
        if (*k > static_cast<std::uint8_t>(ErrorKind::unimplemented)) return refuse("an error kind out of range");
        auto reason = text();
        if (!reason) return refuse(reason.error());
        return Value(Error{static_cast<ErrorKind>(*k), std::move(*reason)});
      }
      default: return refuse(fmt::format("an unknown tag {}", *tag));
    }
  }

 private:
  Result<Value> list(int depth) {
    auto n = len();
    if (!n) return refuse(n.error());
    // Each element takes at least one byte: a count beyond what is left is a lie.
    if (*n > b_.size() - pos_) return refuse("truncated");
    List out;
    out.reserve(*n);
    for (std::uint64_t i = 0; i < *n; ++i) {
      auto e = value(depth + 1);
      if (!e) return refuse(e.error());
      out.push_back(std::move(*e));
    }
    return Value(std::move(out));
  }
  Result<Value> record(int depth) {
    auto label = text();
    if (!label) return refuse(label.error());
    auto n = len();
    if (!n) return refuse(n.error());
    if (*n > b_.size() - pos_) return refuse("truncated");
    Record r{std::move(*label), {}};
    r.fields.reserve(*n);
    for (std::uint64_t i = 0; i < *n; ++i) {
      auto name = text();
      if (!name) return refuse(name.error());
      auto e = value(depth + 1);
      if (!e) return refuse(e.error());
      r.fields.emplace_back(std::move(*name), std::move(*e));
    }
    return Value(std::move(r));
  }

  std::span<const std::uint8_t> b_;
  std::size_t pos_ = 0;
};

}  // namespace

Bytes encode_stored(const Value& v) {
  Bytes out;
  out.push_back(kFormat);
  encode(out, v, 0);
  return out;
}

Result<Value> decode_stored(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return refuse("stored value: empty");
  if (bytes[0] != kFormat) return refuse(fmt::format("stored value: unknown format {}", bytes[0]));
  Reader r(bytes.subspan(1));
  Result<Value> v = r.value(0);
  if (!v) return refuse(fmt::format("stored value: {} at byte {}", v.error(), r.pos() + 1));
  if (!r.at_end()) return refuse(fmt::format("stored value: trailing bytes after byte {}", r.pos() + 1));
  return v;
}

}  // namespace vatic::persist
