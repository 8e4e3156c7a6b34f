#include "vat/error.h"

#include <fmt/format.h>

namespace vatic {

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::failed: return "failed";
    case ErrorKind::disconnected: return "disconnected";
    case ErrorKind::overloaded: return "overloaded";
    case ErrorKind::unimplemented: return "unimplemented";
  }
  return "failed";
}

std::string to_string(const Error& e) { return fmt::format("{}: {}", to_string(e.kind), e.reason); }

VatError::VatError(Error e) : error_(std::move(e)), what_(to_string(error_)) {}
VatError::VatError(ErrorKind kind, std::string reason) : VatError(Error{kind, std::move(reason)}) {}

Error error_from_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const VatError& v) {
    return v.error();
  } catch (const std::exception& x) {
    return Error{ErrorKind::failed, x.what()};
  } catch (...) {
    return Error{ErrorKind::failed, "a turn threw a value that is not a std::exception"};
  }
}

void throw_error(ErrorKind kind, std::string reason) { throw VatError(kind, std::move(reason)); }

}  // namespace vatic
