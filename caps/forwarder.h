// Revocable forwarder (a caretaker): a reference that passes every message on
// to its target until its Revoker is used. From then on every send through it,
// including those sent earlier that have not left it yet, breaks with `failed`
// "revoked: <reason>", and the forwarder drops its target so that the target
// can be freed. Forwarding is non-transitive: references that come back in
// results are the target's own. (A forwarder of a promise resolves to a
// forwarder of the promise's resolution, cut by the same Revoker, so decoding
// it as a promise is no way around the revocation. For transitive wrapping use
// a membrane, caps/membrane.h.)
//
// The forwarder is a Handler, so it works in front of anything a Ref can
// point at: a near object, a far reference into another vat, a promise or a
// CapTP import. Messages leave it in the order they were sent (E-order), each
// in a turn of its own; a message that has already left for another vat or
// peer cannot be called back, but its answer breaks on the way back.
//
// Owned by whoever holds the reference and the Revoker; both belong to the vat
// of the target reference and are used only on that vat's thread.
#pragma once

#include <memory>
#include <string_view>
#include <utility>

#include "vat/error.h"
#include "vat/ref.h"

namespace vatic::caps {

namespace internal {
class Switch;
}

// The right to revoke one forwarder (and every forwarder it resolved to).
// Copies share that right. A default-constructed Revoker revokes nothing.
class Revoker {
 public:
  Revoker() = default;
  // For caps' own code: the revoker of the forwarders cut by `s`.
  explicit Revoker(std::shared_ptr<internal::Switch> s) : switch_(std::move(s)) {}

  // Cuts the forwarder: `failed` "revoked: <reason>". Later calls do nothing.
  void revoke(std::string_view reason);
  // The same with an error of the caller's choice (e.g. the sturdy-ref
  // layer's "refused: invalid token").
  void revoke(Error why);
  bool revoked() const noexcept;

 private:
  std::shared_ptr<internal::Switch> switch_;
};

template <class T>
struct Revocable {
  Ref<T> ref;
  Revoker revoker;
};

namespace internal {
// A forwarder in front of `target` (not empty), and its revoker.
std::pair<detail::HandlerPtr, Revoker> make_revocable(detail::HandlerPtr target);
}  // namespace internal

// A revocable forwarder to `target`: auto [ref, revoker] = caps::revocable(r).
// Throws `failed` for an empty reference.
template <class T>
Revocable<T> revocable(const Ref<T>& target) {
  auto [h, revoker] = internal::make_revocable(detail::RefAccess::handler(target));
  return Revocable<T>{detail::RefAccess::make<T>(std::move(h)), std::move(revoker)};
}

}  // namespace vatic::caps
