#include "sturdyrefs/persist_refs.h"

namespace vatic::sturdyrefs {

namespace {

// spec/persistence.md 9.2: the stored parameters are the object's id; the
// revived reference is its slot, which activates the object on demand.
Ref<Object> revive(persist::Host& objects, const StoredObject& s) {
  try {
    return objects.object_by_id(s.params);
  } catch (const VatError&) {
    // Its reason names the kind, for the operator: this one goes to whoever
    // presented the token.
    throw_error(ErrorKind::failed, "the persistent object behind this sturdy ref is not available now");
  }
}

}  // namespace

PersistentRefs::PersistentRefs(Host& refs, persist::Host& objects) : refs_(refs), objects_(objects) {
  persist::Host* o = &objects;
  // No `narrow`: domain caveats do not apply to a persistent object (9.3).
  // The persist host keeps one slot per id while anything holds it, so the
  // sturdy-ref host need not keep the slot alive to keep its identity.
  refs.add_kind(kPersistKind, Kind{[o](const StoredObject& s) { return revive(*o, s); }, {}, true});
  // spec/admin.md, persist(): the operator sees this host's kinds and activations.
  refs.add_persist_view(objects.describer());
}

caps::Token PersistentRefs::token(const Ref<Object>& ref) {
  std::optional<std::string> id = objects_.id_of(ref);
  if (!id)
    throw_error(ErrorKind::failed, "a sturdy ref of a persistent object needs a reference to one of this host's");
  // The id is both the name and the parameters: find_named() finds the live
  // record of this object again after a restart.
  return refs_.token_for(*id, kPersistKind, *id);
}

std::string PersistentRefs::sturdy_ref(const Ref<Object>& ref) { return refs_.sturdy_ref(token(ref)); }

}  // namespace vatic::sturdyrefs
