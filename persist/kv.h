// Kv and Cell: a persistent object's durable state (spec/persistence.md,
// sections 1 and 3). Kv maps byte-string keys to stored values, typed through
// the vat's codecs (vat/codec.h): `kv().put("owner", name)`,
// `kv().get<std::int64_t>("balance")`, `kv().scan<Entry>("entry/")`.
//
// Writes belong to the call that makes them: they are buffered with the call,
// seen by its own later reads, merged when the call's answer is fulfilled,
// discarded when it breaks, and committed by the host's next group commit.
// Writes outside a call of the object (on_activate, then-continuations, timer
// callbacks) throw VatError(failed).
//
// Cell<T>: a typed view of one key with an initial value, for members that
// are part of the state (`Cell<std::int64_t> balance_{this, "balance", 0};`).
// It keeps nothing in memory, so it rolls back with the call's writes.
//
// Threads: the object's vat, inside its turns.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "vat/codec.h"

namespace vatic::persist {

class Persistent;

// The longest kv key, in bytes.
inline constexpr std::size_t kMaxKvKey = 1024;
// The largest stored value, encoded (spec/persistence.md 1): a put above it
// fails its own call instead of the group commit it would join.
inline constexpr std::size_t kMaxKvValue = std::size_t{16} << 20;

class Kv {
 public:
  Kv(const Kv&) = delete;
  Kv& operator=(const Kv&) = delete;

  template <class T>
  std::optional<T> get(std::string_view key) const {
    std::optional<Value> v = get_value(key);
    if (!v) return std::nullopt;
    return decode<T>(key, *v);
  }
  template <class T>
  void put(std::string_view key, const T& value) {
    put_value(key, Codec<T>::encode(value));
  }
  void erase(std::string_view key);
  // The pairs whose key starts with `prefix`, in bytewise key order.
  template <class T>
  std::vector<std::pair<std::string, T>> scan(std::string_view prefix) const {
    std::vector<std::pair<std::string, T>> out;
    for (auto& [k, v] : scan_values(prefix)) {
      T t = decode<T>(k, v);
      out.emplace_back(std::move(k), std::move(t));
    }
    return out;
  }

  // The same, untyped.
  std::optional<Value> get_value(std::string_view key) const;
  void put_value(std::string_view key, const Value& value);
  std::vector<std::pair<std::string, Value>> scan_values(std::string_view prefix) const;

 private:
  friend class Persistent;
  explicit Kv(const Persistent* owner) : owner_(owner) {}

  template <class T>
  static T decode(std::string_view key, const Value& v) {
    try {
      return Codec<T>::decode(v);
    } catch (const VatError& e) {
      throw_error(ErrorKind::failed, fmt::format("kv key {:?}: {}", key, e.error().reason));
    }
  }

  const Persistent* owner_;
};

template <class T>
class Cell {
 public:
  Cell(Persistent* owner, std::string key, T initial = T{})
      : owner_(owner), key_(std::move(key)), initial_(std::move(initial)) {}
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  T get() const;
  void set(const T& v);
  const std::string& key() const noexcept { return key_; }

 private:
  Persistent* owner_;
  std::string key_;
  T initial_;
};

}  // namespace vatic::persist
