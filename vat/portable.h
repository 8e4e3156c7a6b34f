// Portable<T>: a reference packed to cross threads outside of a message, for
// the code that wires vats together (main, tests, a supervisor). Packing needs
// the reference itself, so a Portable carries no authority its maker lacked;
// unpacking in another vat yields a far reference (or the near one back home).
#pragma once

#include "vat/internal/far.h"
#include "vat/ref.h"

namespace vatic {

template <class T>
class Portable {
 public:
  Portable() = default;

  // The reference, as seen from the current vat.
  Ref<T> take() const {
    if (!detail::current_vat()) throw_error(ErrorKind::failed, "Portable::take must run inside a turn of a vat");
    return detail::ref_from_handler<T>(detail::import_transit(t_));
  }
  explicit operator bool() const noexcept { return static_cast<bool>(t_); }

 private:
  template <class U>
  friend Portable<U> portable(const Ref<U>& r);
  explicit Portable(detail::TransitRef t) : t_(std::move(t)) {}
  detail::TransitRef t_;
};

// Packs `r` (on its vat's thread).
template <class T>
Portable<T> portable(const Ref<T>& r) {
  const auto& h = detail::RefAccess::handler(r);
  if (!h) throw_error(ErrorKind::failed, "portable() of an empty reference");
  return Portable<T>(h->to_transit());
}

}  // namespace vatic
