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

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace vatic {

// Why an input was refused: what a Result holds instead of a value.
struct Refusal {
  std::string reason;
};

// The refusal of a Result: `return refuse("too long");` converts to any Result.
inline Refusal refuse(std::string reason) { return Refusal{std::move(reason)}; }

// Thrown by Result::value() on a refusal: a caller that was sure of its input
// (our own constants, a test) and was wrong.
class RefusedInput : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

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
  explicit operator bool() const noexcept { return ok(); }

  // The value; on a refusal, throws RefusedInput with the reason.
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The reason of a refusal; empty on success.
  const std::string& error() const noexcept {
    static const std::string none;
    return ok() ? none : std::get<1>(v_).reason;
  }

 private:
  void check() const {
    if (!ok()) throw RefusedInput(std::get<1>(v_).reason);
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
    if (refused_) throw RefusedInput(reason_);
  }
  const std::string& error() const noexcept { return reason_; }

 private:
  bool refused_ = false;
  std::string reason_;
};

}  // namespace vatic
