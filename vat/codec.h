// Codec<T>: how a C++ type maps to a passable Value and back. Built in: bool,
// integers (range-checked), double, std::string, Bytes, std::vector, std::optional,
// std::map<std::string, T>, Value itself, and user structs that list their fields
// with VATIC_FIELDS. Ref<T> and Promise<T> codecs live beside those types.
// Decoding untrusted Values throws VatError(failed) naming what was wrong; inside
// a turn that becomes the broken result of the call.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "vat/internal/foreach.h"
#include "vat/value.h"

namespace vatic {

// The stored form of `void` results.
struct Unit {
  friend bool operator==(Unit, Unit) = default;
};

template <class T, class Enable = void>
struct Codec;  // no codec for this type: add VATIC_FIELDS or a Codec specialization

template <>
struct Codec<Value> {
  static Value encode(const Value& v) { return v; }
  static Value decode(const Value& v) { return v; }
};

template <>
struct Codec<Unit> {
  static Value encode(Unit) { return Value(); }
  static Unit decode(const Value&) { return {}; }
};

template <>
struct Codec<bool> {
  static Value encode(bool b) { return Value(b); }
  static bool decode(const Value& v) { return v.as_bool(); }
};

template <class I>
struct Codec<I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>> {
  static Value encode(I i) { return Value(i); }
  static I decode(const Value& v) {
    std::int64_t x = v.as_int();
    if constexpr (std::is_unsigned_v<I>) {
      if (x < 0 || static_cast<std::uint64_t>(x) > std::numeric_limits<I>::max())
        throw_error(ErrorKind::failed, fmt::format("integer {} out of range", x));
    } else {
      if (x < std::numeric_limits<I>::min() || x > std::numeric_limits<I>::max())
        throw_error(ErrorKind::failed, fmt::format("integer {} out of range", x));
    }
    return static_cast<I>(x);
  }
};

template <class F>
struct Codec<F, std::enable_if_t<std::is_floating_point_v<F>>> {
  static Value encode(F f) { return Value(static_cast<double>(f)); }
  static F decode(const Value& v) {
    double d = v.as_double();
    if constexpr (!std::is_same_v<F, double>) {
      if (std::isfinite(d) && (d < std::numeric_limits<F>::lowest() || d > std::numeric_limits<F>::max()))
        throw_error(ErrorKind::failed, fmt::format("number {} out of range", d));
    }
    return static_cast<F>(d);
  }
};

template <>
struct Codec<std::string> {
  static Value encode(const std::string& s) { return Value(s); }
  static std::string decode(const Value& v) { return v.as_text(); }
};

template <>
struct Codec<Bytes> {
  static Value encode(const Bytes& b) { return Value(b); }
  static Bytes decode(const Value& v) { return v.as_bytes(); }
};

template <>
struct Codec<Error> {
  static Value encode(const Error& e) { return Value(e); }
  static Error decode(const Value& v) { return v.as_error(); }
};

template <class T>
struct Codec<std::vector<T>, std::enable_if_t<!std::is_same_v<T, std::uint8_t>>> {
  static Value encode(const std::vector<T>& xs) {
    List l;
    l.reserve(xs.size());
    for (const auto& x : xs) l.push_back(Codec<T>::encode(x));
    return Value(std::move(l));
  }
  static std::vector<T> decode(const Value& v) {
    std::vector<T> out;
    const auto& l = v.as_list();
    out.reserve(l.size());
    for (const auto& x : l) out.push_back(Codec<T>::decode(x));
    return out;
  }
};

template <class T>
struct Codec<std::optional<T>> {
  static Value encode(const std::optional<T>& o) { return o ? Codec<T>::encode(*o) : Value(); }
  static std::optional<T> decode(const Value& v) {
    if (v.is_null()) return std::nullopt;
    return Codec<T>::decode(v);
  }
};

template <class T>
struct Codec<std::map<std::string, T>> {
  static Value encode(const std::map<std::string, T>& m) {
    Record r;
    r.fields.reserve(m.size());
    for (const auto& [k, x] : m) r.fields.emplace_back(k, Codec<T>::encode(x));
    return Value(std::move(r));
  }
  static std::map<std::string, T> decode(const Value& v) {
    std::map<std::string, T> out;
    for (const auto& [k, x] : v.as_record().fields) {
      if (!out.emplace(k, Codec<T>::decode(x)).second)
        throw_error(ErrorKind::failed, fmt::format("duplicate key {:?} in map", k));
    }
    return out;
  }
};

namespace detail {

template <class S, class M>
struct Field {
  const char* name;
  M S::*member;
};

template <class T>
concept HasFields = requires {
  T::vatic_fields();
};

}  // namespace detail

// User structs: a record labelled with the struct's name, one field per member.
// Missing fields decode as an error, extra fields are ignored (so a newer peer
// may add fields).
template <detail::HasFields T>
struct Codec<T> {
  static Value encode(const T& x) {
    Record r;
    r.label = T::vatic_label();
    std::apply([&](const auto&... f) { (r.fields.emplace_back(f.name, encode_field(x.*(f.member))), ...); },
               T::vatic_fields());
    return Value(std::move(r));
  }
  static T decode(const Value& v) {
    const Record& r = v.as_record();
    if (r.label != T::vatic_label())
      throw_error(ErrorKind::failed, fmt::format("expected record {}, got {:?}", T::vatic_label(), r.label));
    T x{};
    std::apply(
        [&](const auto&... f) {
          (
              [&] {
                const Value* fv = r.find(f.name);
                if (!fv) throw_error(ErrorKind::failed, fmt::format("record {} lacks field {}", r.label, f.name));
                x.*(f.member) = Codec<std::remove_cvref_t<decltype(x.*(f.member))>>::decode(*fv);
              }(),
              ...);
        },
        T::vatic_fields());
    return x;
  }

 private:
  template <class M>
  static Value encode_field(const M& m) {
    return Codec<M>::encode(m);
  }
};

template <class T>
Value to_value(const T& x) {
  if constexpr (std::is_array_v<T> || std::is_same_v<std::decay_t<T>, const char*> ||
                std::is_same_v<T, std::string_view>) {
    return Value(std::string_view(x));
  } else {
    return Codec<std::remove_cvref_t<T>>::encode(x);
  }
}
template <class T>
T from_value(const Value& v) {
  return Codec<T>::decode(v);
}

// As to_value and from_value, for a value the caller gives up: bytes and text
// (the bulk of a message) move instead of being copied; anything else is
// encoded or decoded as usual. `v` is left valid but unspecified.
template <class T>
Value to_value_moved(T&& x) {
  using D = std::remove_cvref_t<T>;
  if constexpr (!std::is_lvalue_reference_v<T> &&
                (std::is_same_v<D, Bytes> || std::is_same_v<D, std::string> || std::is_same_v<D, Value>)) {
    return Value(std::move(x));
  } else {
    return to_value(x);
  }
}
template <class T>
T from_value_moved(Value& v) {
  if constexpr (std::is_same_v<T, Value>) {
    return std::move(v);
  } else if constexpr (std::is_same_v<T, Bytes>) {
    if (v.type() == Value::Type::bytes) return std::move(v.as_bytes());
    return Codec<T>::decode(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (v.type() == Value::Type::text) return std::move(v.as_text());
    return Codec<T>::decode(v);
  } else {
    return Codec<T>::decode(v);
  }
}

}  // namespace vatic

#define VATIC_FIELD_ENTRY_(S, f) \
  , ::vatic::detail::Field<S, decltype(S::f)> { #f, &S::f }

// Lists a struct's fields for its codec: VATIC_FIELDS(Point, x, y) inside `struct Point`.
#define VATIC_FIELDS(S, ...)                                                                       \
  static constexpr const char* vatic_label() { return #S; }                                        \
  static constexpr auto vatic_fields() {                                                           \
    return ::vatic::detail::fields_tuple(0 VATIC_PP_FOR_EACH(VATIC_FIELD_ENTRY_, S, __VA_ARGS__)); \
  }

namespace vatic::detail {
template <class... F>
constexpr auto fields_tuple(int, F... f) {
  return std::tuple<F...>(f...);
}
}  // namespace vatic::detail
