#include "sturdyrefs/persist_refs.h"

namespace vatic::sturdyrefs {

PersistentRefs::PersistentRefs(Host& refs, persist::Host& objects) : refs_(refs), objects_(objects) {
  persist::Host* o = &objects;
  // spec/persistence.md 9: the stored parameters are the object's id; the
  // revived reference is its slot, which activates the object on demand. No
  // `narrow`: domain caveats do not apply to a persistent object.
  refs.add_kind(kPersistKind, Kind{[o](const StoredObject& s) { return o->object_by_id(s.params); }, {}});
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
