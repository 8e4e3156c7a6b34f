// Redeemer: the bootstrap object a vat offers on every CapTP session. Its one
// method trades a token (the binary token of a sturdy ref, spec/token.md) for
// a live reference. Each session gets its own Redeemer, made for the peer's
// authenticated vat id, which is what a `holder` caveat is checked against:
// nothing in the request can claim to be someone else.
//
// Both sides include this header: the server implements it (host.cpp), and
// clients send `redeem` to the bootstrap reference of the vat a sturdy ref
// names (enliven.h).
#pragma once

#include "vat/object.h"
#include "vat/ref.h"
#include "vat/value.h"

namespace vatic::sturdyrefs {

class Redeemer : public Object {
 public:
  // The object the token designates, narrowed by its caveats. Breaks with a
  // `failed` error whose reason starts with "refused: " when the token is not
  // honoured; unknown, revoked and forged tokens all read "refused: invalid
  // token", so a prober learns nothing about which objects exist.
  virtual Ref<Object> redeem(Bytes token) = 0;

  VATIC_METHODS(Redeemer, redeem)
};

}  // namespace vatic::sturdyrefs
