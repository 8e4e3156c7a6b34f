// Result<T>: what every function at an untrusted-input boundary returns (frame
// and message decoding, URI, address and vat-id parsing, token verification,
// path resolution, the handshake): the value, or the reason it was refused.
// A refusal is an ordinary outcome there, not an exception: the caller must
// look (the type is [[nodiscard]]), and a peer cannot make the process throw
// through a path that forgot a try.
//
//   Result<VatId> id = VatId::parse(text);
//   if (!id) return refuse(id.error());   // "bad checksum", ...
//   use(*id);
//
// The reason is text for people and logs, written as the rest of a sentence
// ("path component is not UTF-8"); callers that answer a peer put it in the
// reason of the error they send. Result<void> carries only the verdict.
//
// A value type; any thread. (std::expected is C++23; this is its small subset.)
#pragma once

#include <concepts>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "vat/error.h"

namespace vatic {

// Why an input was refused: what a Result holds instead of a value.
struct Refusal {
  std::string reason;
};

// The refusal of a Result: `return refuse("too long");` converts to any Result.
inline Refusal refuse(std::string reason) { return Refusal{std::move(reason)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Refusal r) : v_(std::in_place_index<1>, std::move(r)) {}
  template <class U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, Result> &&
           !std::is_same_v<std::remove_cvref_t<U>, Refusal> && !std::is_same_v<std::remove_cvref_t<U>, T>)
      Result(U&& value)
      : v_(std::in_place_index<0>, T(std::forward<U>(value))) {}

  bool ok() const noexcept { return v_.index() == 0; }
  bool has_value() const noexcept { return ok(); }  // std::expected's spelling
  explicit operator bool() const noexcept { return ok(); }

  // The value. On a refusal, throws VatError(failed, reason): inside a turn
  // that breaks the call's promise with the reason, which is what a method
  // that checked a peer's input and went on without looking wants.
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // A refusal equals nothing; a value equals what it holds.
  friend bool operator==(const Result& r, const T& v) requires std::equality_comparable<T> {
    return r.ok() && std::get<0>(r.v_) == v;
  }
  friend bool operator==(const Result& a, const Result& b) requires std::equality_comparable<T> {
    return a.ok() && b.ok() && std::get<0>(a.v_) == std::get<0>(b.v_);
  }

  // The reason of a refusal; empty on success.
  const std::string& error() const noexcept {
    static const std::string none;
    return ok() ? none : std::get<1>(v_).reason;
  }

 private:
  void check() const {
    if (!ok()) throw VatError(ErrorKind::failed, std::get<1>(v_).reason);
  }
  std::variant<T, Refusal> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Refusal r) : refused_(true), reason_(std::move(r.reason)) {}

  bool ok() const noexcept { return !refused_; }
  explicit operator bool() const noexcept { return ok(); }
  void value() const {
    if (refused_) throw VatError(ErrorKind::failed, reason_);
  }
  const std::string& error() const noexcept { return reason_; }

 private:
  bool refused_ = false;
  std::string reason_;
};

}  // namespace vatic
