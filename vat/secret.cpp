#include "vat/secret.h"

#include <sodium.h>

#include "vat/error.h"

namespace vatic {

void ensure_sodium() {
  // sodium_init is itself idempotent and thread-safe; the function-local static
  // only saves the repeated call. 0: initialised now, 1: already, -1: failed.
  static const int rc = sodium_init();
  if (rc < 0) throw_error(ErrorKind::failed, "libsodium could not be initialised (sodium_init failed)");
}

namespace detail {

void wipe(void* p, std::size_t n) noexcept { sodium_memzero(p, n); }

void fill_random(void* p, std::size_t n) {
  ensure_sodium();
  randombytes_buf(p, n);
}

}  // namespace detail
}  // namespace vatic
