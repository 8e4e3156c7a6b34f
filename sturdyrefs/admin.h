// Admin: the operator's capability to a serving vat, reached only through the
// admin sturdy ref that `vatic serve` writes to STORE/admin.ref (mode 0600).
// It revokes sturdy refs and branches of delegation, lists the objects behind
// the vat's sturdy refs, and shows the inside of the running vat: its stats,
// supervision tree, crash log, flight recorder, CapTP sessions and hosts of
// persistent objects. Both sides
// include this header: the server implements it (host.cpp), `vatic revoke`
// and `vatic inspect` call it by name. spec/admin.md documents every method
// and every field of the records it returns (the views are Values, so a newer
// vat may add fields; readers ignore the ones they do not know).
//
// The views are read-only and cheap (bounded by the recorder's ring, the
// crash log's bound and the number of sessions); what they show is the
// operator's to see, which is why only the admin token reaches them.
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
  bool live = false;  // revived and still held (its references are served)
  VATIC_FIELDS(ObjectInfo, id, kind, name, created, revoked, live)
};

class Admin : public Object {
 public:
  // Revokes what `sturdy_ref` designates: the whole object for a ref without
  // caveats, else the branch it heads (it and every token derived from it).
  // Live references handed out for it are cut too. Refuses ("refused:
  // invalid token") a ref this vat did not issue. Returns what was revoked:
  // "object" or "branch"; or "already" when the ref was revoked before (by
  // itself, an ancestor or its object), so that a revoke can be repeated
  // safely when its answer was lost.
  virtual std::string revoke(std::string sturdy_ref) = 0;
  // The objects behind this vat's sturdy refs (parameters are not shown: they
  // may name host paths).
  virtual std::vector<ObjectInfo> objects() = 0;
  // Record "stats": vat_stats() (vat/introspect.h) plus vat (name), vat_id,
  // uptime_ms, sessions (count), handshakes_accepted, handshakes_failed.
  virtual Value stats() = 0;
  // List of "supervisor" records: supervision_tree() (vat/introspect.h).
  virtual Value tree() = 0;
  // List of "crash" records, oldest first: crash_log() (vat/introspect.h).
  virtual Value crashes() = 0;
  // List of "delivery" and "event" records, oldest first: recorder_dump().
  virtual Value recorder() = 0;
  // List of "session" records: captp::Node::sessions_info() of the node the
  // host serves on (empty when it serves on none).
  virtual Value sessions() = 0;
  // List of "persist" records, one per host of persistent objects joined to
  // this vat's sturdy refs (persist::Host::describe, sturdyrefs/persist_refs.h);
  // empty when there is none.
  virtual Value persist() = 0;

  VATIC_METHODS(Admin, revoke, objects, stats, tree, crashes, recorder, sessions, persist)
};

}  // namespace vatic::sturdyrefs
