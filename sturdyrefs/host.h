// Host: the sturdy-ref side of a serving vat. It mints sturdy refs for objects
// it knows how to re-create (by kind, from parameters kept in the Store),
// redeems tokens that authenticated peers present (through the Redeemer each
// session gets as its bootstrap object), and revokes objects and delegation
// branches, cutting the live references handed out for them as well.
//
// Redeeming follows spec/token.md's order: sizes and version, our vat id, a
// known and unrevoked object, the MAC chain (constant-time compare), revoked
// branches, and only then the caveats. The result is the revived object,
// narrowed by the kind's domain caveats (a directory's path, ops, max_bytes),
// wrapped in a membrane that checks the token's time window and method list on
// every call and that revocation cuts.
//
// Revived objects are cached while anything holds them, so that redeeming
// twice reaches one object: an entry that only the cache holds (or, for a
// kind that keeps identity itself, that no live redeemed reference reaches)
// is swept each time the cache doubles, so a vat that revives many objects
// keeps only those in use.
//
// Threads: a Host belongs to its vat; every call runs on the vat's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caps/caveat.h"
#include "caps/token.h"
#include "captp/identity.h"
#include "sturdyrefs/redeemer.h"
#include "sturdyrefs/store.h"
#include "vat/ref.h"

namespace vatic::captp {
class Node;
}

namespace vatic::sturdyrefs {

// How a Host brings back objects of one kind.
struct Kind {
  // Re-creates the object from its stored record. Throws VatError on failure.
  std::function<Ref<Object>(const StoredObject&)> revive;
  // Applies the domain caveats (path, ops, max_bytes) to a revived object. A
  // kind without one refuses tokens that carry domain caveats (fail closed).
  std::function<Ref<Object>(const Ref<Object>&, const caps::Caveats&)> narrow;
  // Whether `revive` itself yields the same object for the same record while
  // any reference to it lives (a persistent object's slot does). The Host
  // then drops its cached revival once no reference it handed out is live,
  // even though the kind still holds the object.
  bool keeps_identity = false;
};

// token.md, Clock skew: the default tolerance.
inline constexpr std::int64_t kDefaultClockSkewSeconds = 60;

struct HostOptions {
  // Address hints written into sturdy refs ("host:port", "unix:/path").
  std::vector<std::string> hints;
  // Wall-clock time in unix seconds, for expiry caveats. Unset: the vat's
  // clock (Clock::unix_ms), so a vat on a ManualClock checks expiry on its time.
  std::function<std::int64_t()> now_unix;
  // How far the clock of the host that minted a token (or added its time
  // caveats) may be from ours: expires and not_before are honoured with this
  // much slack each way (spec/token.md, Clock skew). `vatic serve --clock-skew`.
  std::int64_t clock_skew_seconds = kDefaultClockSkewSeconds;
};

class Host {
 public:
  // The identity and master key come from `store`, which must outlive the Host.
  Host(Vat& vat, Store& store, HostOptions options);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const captp::VatId& id() const noexcept;
  void add_kind(const std::string& name, Kind kind);
  // A view the Admin object's persist() lists (one per persist::Host joined
  // by a PersistentRefs; the function may outlive its host and say so).
  void add_persist_view(std::function<Value()> view);
  // Where sturdy refs say this vat listens (set once the listen address is known).
  void set_hints(std::vector<std::string> hints);

  // The token of the object named `name` of this kind and params, recorded in
  // the store on first use: the same call after a restart yields the same token.
  caps::Token token_for(const std::string& name, const std::string& kind, const std::string& params);
  // The token of this vat's Admin object (admin.h).
  caps::Token admin_token();
  // The text form, with this host's hints.
  std::string sturdy_ref(const caps::Token& token) const;

  // Makes each session's bootstrap object a Redeemer bound to its peer. The
  // Admin object shows this node's sessions (it checks Node::lifetime(), so
  // the node may go first).
  void serve_on(captp::Node& node);
  Ref<Redeemer> redeemer_for(const captp::VatId& peer);

  // Redeems `token` for `peer` (see above; no peer: an in-process caller,
  // which no holder caveat matches); throws VatError on refusal.
  Ref<Object> redeem(const Bytes& token, const std::optional<captp::VatId>& peer);
  // Revokes the branch `token` heads (the whole object when it has no
  // caveats) and returns "branch" or "object", or "already" (changing
  // nothing) when the token was revoked before: by itself, an ancestor
  // branch or its object. Throws "refused: invalid token" unless the chain
  // verifies.
  std::string revoke(const caps::Token& token);

  // Revived objects cached so that one held object keeps its identity across
  // redeems (entries nobody else holds are swept when the cache doubles).
  std::size_t live_objects() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace vatic::sturdyrefs
