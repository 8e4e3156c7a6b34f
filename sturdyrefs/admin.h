// Admin: the operator's capability to a serving vat, reached only through the
// admin sturdy ref that `vatic serve` writes to STORE/admin.ref (mode 0600).
// It revokes sturdy refs and branches of delegation, and lists the objects
// behind the vat's sturdy refs. Both sides include this header: the server
// implements it (host.cpp), `vatic revoke` and tools call it by name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vat/codec.h"
#include "vat/object.h"

namespace vatic::sturdyrefs {

struct ObjectInfo {
  std::string id;  // the object id in hex
  std::string kind;
  std::string name;
  std::int64_t created = 0;  // unix seconds
  bool revoked = false;
  VATIC_FIELDS(ObjectInfo, id, kind, name, created, revoked)
};

class Admin : public Object {
 public:
  // Revokes what `sturdy_ref` designates: the whole object for a ref without
  // caveats, else the branch it heads (it and every token derived from it).
  // Live references handed out for it are cut too. Refuses ("refused:
  // invalid token") a ref this vat did not issue. Returns what was revoked:
  // "object" or "branch".
  virtual std::string revoke(std::string sturdy_ref) = 0;
  // The objects behind this vat's sturdy refs (parameters are not shown: they
  // may name host paths).
  virtual std::vector<ObjectInfo> objects() = 0;

  VATIC_METHODS(Admin, revoke, objects)
};

}  // namespace vatic::sturdyrefs
