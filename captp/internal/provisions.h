// ProvisionTable: the host's side of three-party handoff (spec/captp.md 11,
// H8, H10, H14). A provision is what an introducer B asked this vat (C) to
// keep for a recipient A with `provide`; an accept from A takes it, once, and
// only if A is the recipient the provision names. Provisions are matched by
// (provider vat id, nonce) across all of the node's sessions, so the table
// belongs to the Node, and every session that negotiated `handoff` reports
// to it. An accept that arrives before its provide waits here, bounded in
// number and time.
//
// The table settles answers (the provide's and the accept's result promises,
// entered in their sessions' answer tables by the session) and never sends a
// message itself: each session writes the return when its answer settles, in
// its own terms (section 4), as for any call.
//
// Threads: the vat's thread only, like the sessions that use it. Sessions
// leave the table (session_ended) before their tables are drained, so the
// raw session pointers it keeps never dangle.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "captp/identity.h"
#include "captp/options.h"
#include "vat/clock.h"
#include "vat/promise_state.h"
#include "vat/timer.h"
#include "vat/vat_id.h"

namespace vatic {
class Vat;
}

namespace vatic::captp {

class Session;
struct HandoffRecipient;

inline constexpr std::size_t kHandoffNonceBytes = 32;
using HandoffNonce = std::array<std::uint8_t, kHandoffNonceBytes>;

class ProvisionTable {
 public:
  using Answer = detail::Ptr<detail::PromiseState<Value>>;

  ProvisionTable(Vat& vat, VatId self, SessionOptions options);
  ProvisionTable(const ProvisionTable&) = delete;
  ProvisionTable& operator=(const ProvisionTable&) = delete;
  ~ProvisionTable();

  // This vat's own id (a provision for it, or a descriptor naming it as the
  // host, is refused).
  const VatId& self() const noexcept { return self_; }

  // A session that negotiated `handoff` started, or ended (for any reason:
  // its provisions end, its waiting accepts go, and accepts waiting for its
  // peer's provides are refused if it was the last session with that peer).
  void session_opened(Session& s);
  void session_ended(Session& s);

  // H8: `from` (the provider's session) asks us to keep `target` for
  // `recipient`. `answer` is the provide's answer, already in `from`'s table;
  // it settles when the provision ends.
  void provide(Session& from, std::uint32_t qid, Answer answer, detail::HandlerPtr target, const VatId& recipient,
               const HandoffNonce& nonce);
  // H10: `from` (the recipient's session) asks for what `provider` provided
  // under `nonce`. `answer` settles with the target, or with the refusal.
  void accept(Session& from, std::uint32_t qid, Answer answer, const VatId& provider, const HandoffNonce& nonce,
              bool embargo);
  // Disembargo `provide` (H9, H10) from the provider's session for its
  // provide `qid`: lifts the embargo of the accept that took it, if the
  // provision is still there.
  void lift(Session& from, std::uint32_t qid);
  // The provider finished its provide before it was answered (H13, cancel).
  void provide_finished(Session& from, std::uint32_t qid);
  // The recipient finished its accept before it was answered (H14).
  void accept_finished(Session& from, std::uint32_t qid);

  // H1: the addresses this vat listens on, announced on every session that
  // negotiated handoff (now, and first thing on the ones that start later).
  // At most 8 (spec/captp.md 11.8); a wildcard bind is not announced.
  void add_hint(const std::string& hint);
  const std::vector<std::string>& hints() const noexcept { return hints_; }

  // H6 3: how this vat reaches a host it has no session with. `dial(host,
  // hints, done)` dials `host` at `hints`, in order, sharing any other dial
  // to it, within the connect and handshake deadlines, and calls `done`
  // once: with null when a session with `host` started (or one was there
  // already: H6 2 decides what it is worth), else with why no hint reached
  // it. Set by the Node; without one the recipient falls back at once (H6
  // allows it).
  using Dial = std::function<void(const VatId& host, const std::vector<std::string>& hints,
                                  std::function<void(const Error* failed)> done)>;
  void set_dial(Dial d) { dial_ = std::move(d); }
  const Dial& dial() const noexcept { return dial_; }

  // H6 1: an open, not retired session with (`peer`, `instance`) that
  // negotiated handoff, or null.
  detail::Ptr<Session> session_with(const VatId& peer, const InstanceId& instance) const;

  // The recipient's side (H7, last paragraph): the handoff promises of this
  // vat that hold calls, from the descriptor until H11 or H12, whichever
  // session they came over. A disembargo reflected, or a resolve sent, along
  // a path through one of them waits for it to let its calls go: the walks
  // of embargo.cpp look each hop up here. A HandoffRecipient registers
  // itself and leaves when R settles or when it dies.
  void holding_started(const detail::Handler* r, HandoffRecipient* h) { holding_[r] = h; }
  void holding_ended(const detail::Handler* r) noexcept { holding_.erase(r); }
  HandoffRecipient* holding(const detail::Handler* r) const noexcept {
    auto it = holding_.find(r);
    return it == holding_.end() ? nullptr : it->second;
  }

  // spec/captp.md 11.9, per session.
  std::size_t provisions_of(const Session& s) const noexcept;
  std::size_t waiting_of(const Session& s) const noexcept;

 private:
  struct Key {
    std::array<std::uint8_t, kVatIdBytes> provider;
    HandoffNonce nonce;
    auto operator<=>(const Key&) const = default;
  };
  struct Taker {  // the accept that took a provision and waits for its disembargo
    Session* session;
    std::uint32_t qid;
    Answer answer;
  };
  struct Provision {
    Session* from;
    std::uint32_t qid;
    Answer answer;
    detail::HandlerPtr target;
    VatId recipient;
    std::uint64_t seq;  // arrival order: the oldest ends first (H8, 5)
    Timer expiry;
    bool lifted = false;
    std::optional<Taker> taker;
  };
  struct Waiting {
    Session* session;
    std::uint32_t qid;
    Answer answer;
    Key key;
    bool embargo;
    Timer expiry;
  };

  // Takes the provision for the accept (binding and once, H10 3-4), then
  // honours it now or when its disembargo arrives. False: refused (the
  // provision is left untouched).
  bool take(std::map<Key, Provision>::iterator it, Session& from, std::uint32_t qid, Answer answer, bool embargo);
  void honour(std::map<Key, Provision>::iterator it);
  // Ends a provision: the provide is answered `provide_error` (none: it was
  // canceled or its session ended) and an accept that took it is refused
  // with `accept_error`.
  void end(std::map<Key, Provision>::iterator it, std::optional<Error> provide_error, const Error& accept_error);
  void expire_waiting(std::uint64_t id);
  std::size_t sessions_with(const VatId& peer) const;

  Vat& vat_;
  VatId self_;
  SessionOptions options_;
  std::map<Key, Provision> provisions_;
  std::map<std::uint64_t, Waiting> waiting_;  // by arrival
  std::map<Session*, VatId> sessions_;        // the open sessions that negotiated handoff
  std::uint64_t seq_ = 0;
  std::vector<std::string> hints_;
  std::unordered_map<const detail::Handler*, HandoffRecipient*> holding_;
  Dial dial_;
};

// The refusal every accept meets that finds no provision it may take,
// whatever the cause (spec/captp.md 11.2, H10): an accept learns nothing
// about provisions made for someone else.
inline constexpr const char* kNoProvision = "no provision for this accept";

}  // namespace vatic::captp
