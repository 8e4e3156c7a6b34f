// Error: why a promise broke. Four kinds cross vat (and later wire) boundaries
// unchanged, as KJ's exception types do; the detail goes in the reason text.
// Inside a turn, failures are thrown (as VatError or any std::exception) and the
// vat turns them into a broken promise at the turn boundary.
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace vatic {

enum class ErrorKind : unsigned char {
  failed,         // the callee tried and failed; retrying the same call will not help
  disconnected,   // the callee's vat or link went away; safe to retry elsewhere or later
  overloaded,     // a temporary lack of resources or time (also: deadlines)
  unimplemented,  // the target does not understand the method
};

std::string_view to_string(ErrorKind kind) noexcept;

struct Error {
  ErrorKind kind = ErrorKind::failed;
  std::string reason;

  friend bool operator==(const Error&, const Error&) = default;
};

std::string to_string(const Error& e);

// The exception that carries an Error through C++ code running inside a turn.
class VatError : public std::exception {
 public:
  explicit VatError(Error e);
  VatError(ErrorKind kind, std::string reason);
  const Error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  Error error_;
  std::string what_;
};

// Maps whatever escaped a turn to an Error: VatError keeps its kind, any other
// std::exception becomes `failed` with its what(), anything else a fixed text.
Error error_from_exception(std::exception_ptr e);

[[noreturn]] void throw_error(ErrorKind kind, std::string reason);

}  // namespace vatic
