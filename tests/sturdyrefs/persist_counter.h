// Counter: the persistent object the sturdy-ref tests of persistent objects
// reach (persist_refs_test.cpp in process, persist_refs_process_test.cpp
// through persist_server_main.cpp): a value in a Cell, a method that writes,
// one that only reads, and one that writes and then throws (rolled back).
#pragma once

#include <cstdint>

#include "persist/persistent.h"
#include "vat/error.h"

namespace vatic::sturdyrefs::test {

class Counter : public persist::Persistent {
 public:
  std::int64_t add(std::int64_t n) {
    value_.set(value_.get() + n);
    return value_.get();
  }
  std::int64_t value() { return value_.get(); }
  std::int64_t add_then_fail(std::int64_t n) {
    value_.set(value_.get() + n);
    throw VatError(ErrorKind::failed, "refused after writing");
  }
  VATIC_METHODS(Counter, add, value, add_then_fail)

 private:
  persist::Cell<std::int64_t> value_{this, "value", 0};
};

}  // namespace vatic::sturdyrefs::test
