// Value: passable data, what crosses vat boundaries (and later the wire): null,
// bool, int64, float64, text, bytes, list, record (label and named fields),
// reference, promise and error. Data is copied when it crosses vats; references
// stay references. C++ types map to Values through codecs (codec.h).
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "vat/error.h"
#include "vat/handler.h"

namespace vatic {

class Value;

using Bytes = std::vector<std::uint8_t>;
using List = std::vector<Value>;

struct Record {
  std::string label;
  std::vector<std::pair<std::string, Value>> fields;

  // The field named `name`, or null when absent.
  const Value* find(std::string_view name) const;
  friend bool operator==(const Record&, const Record&);
};

// A reference or promise held in a Value. Inside a vat it is a handler; while it
// travels between vats it is a transit entry (see far.h).
struct Capability {
  detail::HandlerPtr handler;
  detail::TransitRef transit;
  bool promise = false;

  const void* identity() const noexcept;
  friend bool operator==(const Capability& a, const Capability& b) noexcept {
    return a.promise == b.promise && a.identity() == b.identity();
  }
};

class Value {
 public:
  enum class Type : unsigned char { null, boolean, integer, real, text, bytes, list, record, reference, error };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : rep_(b) {}
  template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) Value(I i) : rep_(checked_int(i)) {}
  Value(double d) : rep_(d) {}
  Value(std::string s) : rep_(std::move(s)) {}
  Value(std::string_view s) : rep_(std::string(s)) {}
  Value(const char* s) : rep_(std::string(s)) {}
  Value(Bytes b) : rep_(std::move(b)) {}
  Value(List l) : rep_(std::move(l)) {}
  Value(Record r) : rep_(std::move(r)) {}
  Value(Capability c) : rep_(std::move(c)) {}
  Value(Error e) : rep_(std::move(e)) {}

  Type type() const noexcept { return static_cast<Type>(rep_.index()); }
  bool is_null() const noexcept { return type() == Type::null; }

  // Accessors throw VatError(failed) naming the expected and actual type.
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_double() const;  // also accepts integers
  const std::string& as_text() const;
  const Bytes& as_bytes() const;
  const List& as_list() const;
  const Record& as_record() const;
  const Capability& as_capability() const;
  const Error& as_error() const;
  std::string& as_text();
  Bytes& as_bytes();
  List& as_list();
  Record& as_record();
  Capability& as_capability();

  // A short human-readable rendering, capped at `max` characters.
  std::string to_string(std::size_t max = 200) const;

  friend bool operator==(const Value&, const Value&) = default;

 private:
  template <class I>
  static std::int64_t checked_int(I i) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
      if (i > static_cast<I>(INT64_MAX)) throw_error(ErrorKind::failed, "integer does not fit in int64");
    }
    return static_cast<std::int64_t>(i);
  }
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Bytes, List, Record, Capability, Error> rep_;
};

std::string_view to_string(Value::Type t) noexcept;

}  // namespace vatic
