// PersistentRefs: sturdy refs for persistent objects (spec/persistence.md 9).
// It joins a sturdy-ref Host (tokens, redeeming, revocation) to a persist::Host
// (objects activated on demand): a persistent object's token is recorded in
// the sturdy-ref store under the kind "persist" with the object's id
// ("<kind>/<key>") as its parameters, and redeeming it revives the object
// through the persist::Host, which activates it when the first message
// arrives, after a passivation or a restart alike.
//
//   sturdyrefs::Host refs(vat, *store, {...});
//   persist::Host objects(vat, engine);
//   objects.register_kind<Account>({.name = "account"});
//   sturdyrefs::PersistentRefs persistent(refs, objects);
//   std::string text = persistent.sturdy_ref(objects.object<Account>("alice"));
//
// The token is an ordinary one: attenuable offline (caps::attenuate), checked
// on redeem in spec/token.md's order, and revoked with Host::revoke or the
// Admin object. A persistent object takes no domain caveats (path, ops,
// max_bytes): a token that carries one is refused (fail closed).
//
// Ownership: both hosts must outlive this object, which registers the kind
// "persist" with the sturdy-ref Host. Threads: the hosts' vat.
#pragma once

#include <string>

#include "caps/token.h"
#include "persist/host.h"
#include "sturdyrefs/host.h"

namespace vatic::sturdyrefs {

inline constexpr const char* kPersistKind = "persist";

class PersistentRefs {
 public:
  PersistentRefs(Host& refs, persist::Host& objects);
  PersistentRefs(const PersistentRefs&) = delete;
  PersistentRefs& operator=(const PersistentRefs&) = delete;

  // The token of the persistent object `ref` designates (one of `objects`'),
  // recorded on first use: the same object yields the same token after a
  // restart, until it is revoked (then a fresh one, which the revoked one's
  // holders cannot derive). Throws VatError(failed) for any other reference.
  caps::Token token(const Ref<Object>& ref);
  // The text form, with the sturdy-ref Host's hints.
  std::string sturdy_ref(const Ref<Object>& ref);

 private:
  Host& refs_;
  persist::Host& objects_;
};

}  // namespace vatic::sturdyrefs
