// Enliven: turns a sturdy ref into a live reference. It dials the vat the ref
// names through its address hints, in order (reusing a session with that vat
// if the node has one), lets the handshake prove the vat holds the key the ref
// names, and redeems the token with the vat's bootstrap object (redeemer.h).
//
// The result is a promise for the reference and can be sent to at once: the
// sends are pipelined behind the redeem, so "enliven, then list" costs one
// round trip after the handshake. Threads: the node's vat.
#pragma once

#include "captp/node.h"
#include "sturdyrefs/uri.h"
#include "vat/promise.h"
#include "vat/ref.h"

namespace vatic::sturdyrefs {

// Breaks with `disconnected` when no hint reaches a vat holding the ref's key
// (the reason names each failed hint), with the redeemer's "refused: ..."
// error when the vat does not honour the token, and with `failed` at once for
// a ref without hints to a vat the node has no session with.
Promise<Ref<Object>> enliven(captp::Node& node, const SturdyRef& ref);

// The same as a reference of type T (a promise reference until it resolves).
template <class T>
Ref<T> enliven_as(captp::Node& node, const SturdyRef& ref) {
  return detail::RefAccess::make<T>(enliven(node, ref).state());
}

}  // namespace vatic::sturdyrefs
