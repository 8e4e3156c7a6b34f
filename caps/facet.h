// Facet: a reference that lets through only the methods on its allow-list,
// in front of any reference (near, far, promise, CapTP import). Any other
// method breaks with `failed` "refused: method <m> is not allowed by this
// capability" (the "refused: " prefix is what the CLI maps to exit code 3). A
// typed send of a method that its class does not name is refused as well: a
// facet passes only what it can name.
//
// Non-transitive: references that come back in results are the target's own,
// unrestricted (use a membrane, caps/membrane.h, for a transitive narrowing).
// A facet of a promise resolves to a facet of the resolution, so decoding it as
// a promise does not get around the list. Messages go on synchronously and in
// order; there is nothing to revoke (combine with caps::revocable for that).
//
// Owned by whoever holds the reference; it belongs to the vat of the target
// reference and is used only on that vat's thread.
#pragma once

#include <string>
#include <vector>

#include "vat/ref.h"

namespace vatic::caps {

namespace internal {
detail::HandlerPtr make_facet(detail::HandlerPtr target, std::vector<std::string> methods);
}

// A facet of `target` allowing `methods`: caps::facet(dir, {"read", "list"}).
// Throws `failed` for an empty reference.
template <class T>
Ref<T> facet(const Ref<T>& target, std::vector<std::string> methods) {
  return detail::RefAccess::make<T>(internal::make_facet(detail::RefAccess::handler(target), std::move(methods)));
}

}  // namespace vatic::caps
