// Session: one CapTP connection between two vats, over an authenticated secure
// channel. It owns the four tables (exports, imports, questions, answers), turns
// incoming messages into deliveries to the vat's handlers, and turns sends to
// remote references (ImportHandler, RemotePromise) into outgoing messages.
// Everything here runs on the vat's thread. The protocol it speaks is
// spec/captp.md; the files are split by concern: session.cpp (setup, framing,
// dispatch, sending), ops.cpp (one handler per operation), gc.cpp (export and
// import counts), embargo.cpp (resolution and E-order), disconnect.cpp.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <kj/function.h>

#include "captp/identity.h"
#include "captp/internal/provisions.h"
#include "captp/internal/tables.h"
#include "captp/internal/wire.h"
#include "captp/options.h"
#include "captp/protocol.h"
#include "vat/clock.h"
#include "vat/promise_state.h"
#include "vat/timer.h"

namespace vatic {
class Vat;
}

namespace vatic::captp {

class SecureChannel;
class RemotePromise;
class ImportHandler;
class Session;

// One handoff in progress at the recipient A (spec/captp.md 11, H5-H12),
// from the descriptor to H11 or H12: the handoff promise R that A's program
// holds, and the vine (B's proxy). handoff_recipient.cpp.
struct HandoffRecipient : detail::RefCounted {
  explicit HandoffRecipient(const VatId& h) : host(h) {}
  HandoffRecipient(const HandoffRecipient&) = delete;
  HandoffRecipient& operator=(const HandoffRecipient&) = delete;
  ~HandoffRecipient();
  detail::Ptr<Session> introducer;                   // S_AB
  detail::Ptr<detail::PromiseState<Value>> promise;  // R
  detail::HandlerPtr vine;                           // held until H11 (then released) or H12 (R's target)
  std::uint32_t vine_id = 0;
  VatId host;
  InstanceId host_instance;
  HandoffNonce nonce{};
  std::vector<std::string> hints;  // where C may be dialled (H6 3), as B sent them
  bool dialed = false;             // H6 3 done: a session with C, or none, is final
  bool used = false;               // a call went toward the object through B (11.3)
  bool accept_sent = false;        // H7 done: only S_AC's answer settles R now
  // H7, last paragraph: while R holds calls it is an embargo of ours. The
  // disembargoes to reflect (session, embargo id) and the resolves of our
  // exports (session, export id, serial) or returns of our answers whose path
  // goes through R wait here until R lets its calls go (release_held, at H11
  // or H12).
  std::vector<std::pair<detail::Ptr<Session>, std::uint32_t>> loopbacks;
  struct Resolve {
    detail::Ptr<Session> session;
    std::uint32_t id;
    std::uint64_t serial;
    bool answer;  // `id` is an answer whose return waits, not an export
  };
  std::vector<Resolve> resolves;
  std::shared_ptr<ProvisionTable> table;  // where R is registered as holding calls
  // R settled: it holds nothing any more; what waited for it goes on.
  void release_held();
  // H5, H7: R stops relaying calls to the vine (the accept leaves, or R settles).
  void stop_relay() noexcept;
};

// Where a call goes on the peer's side.
struct Target {
  bool answer = false;  // promisedAnswer (else importedCap)
  std::uint32_t id = 0;
  std::vector<std::string> path;
  auto operator<=>(const Target&) const = default;
};

// The wire forms of a call's target and of a promised answer.
void write_promised_answer(std::uint32_t qid, const std::vector<std::string>& path, wire::PromisedAnswer::Builder out);
void write_target(const Target& target, wire::MessageTarget::Builder out);

class Session final : public detail::RefCounted {
 public:
  // `provisions`: the node's handoff table (spec/captp.md 11); without it the
  // session speaks no handoff, whatever the handshake negotiated.
  Session(Vat& vat, std::shared_ptr<SecureChannel> channel, detail::HandlerPtr bootstrap, SessionOptions options,
          std::shared_ptr<ProvisionTable> provisions = nullptr);
  ~Session() override;

  // Starts reading; `on_closed` fires once when the session ends for any reason.
  void start(std::function<void(const Error&)> on_closed);

  const VatId& peer() const noexcept { return peer_; }
  bool is_open() const noexcept { return open_; }
  bool is_initiator() const noexcept { return initiator_; }
  // The protocol version and features agreed in the handshake.
  const Negotiated& negotiated() const noexcept { return negotiated_; }
  Vat& vat() const noexcept { return vat_; }
  SessionStats stats() const;
  // Whether this session speaks three-party handoff (spec/captp.md 11.10).
  bool handoff() const noexcept { return provisions_ && negotiated_.has(Feature::handoff); }
  // The hints the peer announced last (H1), canonical address texts.
  const std::vector<std::string>& announced_hints() const noexcept { return announced_hints_; }
  // The address this vat dialled the peer at (a session it initiated), if
  // the node knows it: H4's hint when the peer announced none.
  void set_dialled_address(std::string a) { dialled_address_ = std::move(a); }
  const std::string& dialled_address() const noexcept { return dialled_address_; }
  const InstanceId& peer_instance() const noexcept;

  // --- Handoff across sessions (handoff.cpp, spec/captp.md 11).
  // H1: tells the peer where this vat listens.
  void send_announce(const std::vector<std::string>& hints);
  // As the introducer's session with the host (S_BC): sends a provide of
  // import `import_id` for `recipient` (H3); the question id, or none when
  // it cannot go (the session ended, too many questions). `result` settles
  // when the host returns on it.
  std::optional<std::uint32_t> send_provide(std::uint32_t import_id, const VatId& recipient, const HandoffNonce& nonce,
                                            detail::Ptr<detail::PromiseBase>& result);
  // H13: cancels provide `qid` if it is still unanswered.
  void finish_provide(std::uint32_t qid);
  // H9: every call the recipient sent through the vine is forwarded.
  void send_provide_disembargo(std::uint32_t qid);
  // As the recipient's session with the host (S_AC): sends an accept (H7);
  // its answer, or null when it cannot go.
  detail::Ptr<detail::PromiseBase> send_accept(const VatId& provider, const HandoffNonce& nonce, bool embargo);
  // H11 and H12 for a handoff that came over this session (S_AB).
  void complete_handoff(const detail::Ptr<HandoffRecipient>& h, const Capability& target);
  void fall_back(const detail::Ptr<HandoffRecipient>& h, const std::string& why);
  // spec/captp.md 5 "Same path" and 11.3: whether `h` is the handoff promise
  // of a descriptor in the message being read from this session; a promise
  // of ours resolving to it counts as the same path.
  bool is_fresh_handoff(const detail::Handler* h) const noexcept;
  // A promise that carried calls (`used`) resolved to fresh handoff `h`.
  void note_handoff_used(const detail::Handler* h) noexcept;
  // Provides of ours still unanswered on this session (H2 5).
  std::size_t provides_outstanding() const noexcept { return provide_qids_.size(); }
  // Why the session ended (kind disconnected or failed); empty while open.
  const Error& close_reason() const noexcept { return closed_; }

  // A promise for the peer's bootstrap object (pipelinable at once).
  detail::Ptr<detail::PromiseBase> bootstrap();

  // Ends the session: a close frame with `reason` (graceful) or an abort
  // message (protocol violation), then everything of the session breaks.
  void close(const std::string& reason);

  // captp.md 9, crossed connections: this session lost to a crossing one.
  // The node starts nothing new on it; what was made through it keeps
  // working. `on_quiet` (null on the accepting side, which waits for the
  // dialer to close) runs once, in a later turn, when the session is quiet.
  void retire(std::function<void()> on_quiet);
  bool is_retired() const noexcept { return retired_; }
  // Every table empty and no call held: nothing of this session is in use
  // here, and (its peer starting nothing new on it) nothing is on its way.
  bool quiet() const noexcept;
  void abort(const Error& e);

  // --- Used by the remote handlers (remote.cpp).
  // Sends `m` as a call to `target`; false if it broke instead (the session
  // ended, too many questions, a value that cannot be sent).
  bool send_call(const Target& target, detail::MessagePtr m);
  void import_dropped(std::uint32_t id);
  void remote_promise_dropped(RemotePromise* p);
  // Registers a path handler into a pending answer, settled with the answer.
  void attach_path(RemotePromise* p);
  // The pending handler of question `qid` for `path`, if one lives: one path,
  // one handler (spec/captp.md 5, Embargo, "One path, one record").
  RemotePromise* path_handler(std::uint32_t qid, const std::vector<std::string>& path) const noexcept;
  // A call went along `p`, a path into question `qid`: the question's own
  // handler keeps `p` alive past the call (spec/captp.md 5, "One path, one record").
  void keep_used_path(RemotePromise* p);
  // Whether one more path into question `qid` may be kept (max_kept_paths).
  bool may_keep_path(std::uint32_t qid) const noexcept;
  const SessionOptions& options() const noexcept { return options_; }
  std::uint32_t start_embargo(RemotePromise* p, const Target& target);
  // Answers the peer's disembargo `eid` along `target` once the calls that
  // came before it are delivered or forwarded (spec/captp.md 5).
  void reply_loopback(detail::HandlerPtr target, std::uint32_t eid);
  // spec/captp.md 5, "Chained loopback": the calls along the path of the
  // disembargo `eid` of session `reply_on`, which started at `start`, went on
  // over this session to `target`; the reply goes once they have arrived (a
  // round trip here). One chain per target is in flight: a later one joins
  // it if nothing was sent here since, else waits for it and walks its path
  // again.
  void chain_loopback(const Target& target, detail::Ptr<Session> reply_on, detail::HandlerPtr start, std::uint32_t eid);
  // The local result of a call from the peer settled: send the return.
  void deliver_return(std::uint32_t qid, std::uint64_t serial, detail::PromiseBase& p);
  // Whether the peer still waits for the return of answer `qid` (entered
  // with `serial`): not once the peer finished it or the session ended.
  bool awaits_return(std::uint32_t qid, std::uint64_t serial) const noexcept;
  // An exported local promise settled: send the resolve.
  void export_settled(std::uint32_t id, std::uint64_t serial, detail::PromiseBase& p);
  // The embargo that held back the resolve of export `id` lifted: send it
  // now if the export still stands (spec/captp.md 5, "The resolve waits for the embargo").
  // With `answer`, `id` is an answer whose return waited: sent now if the
  // peer still awaits it.
  void resolve_after_embargo(std::uint32_t id, std::uint64_t serial, bool answer);
  // Whether `h` (after local forwarding) is a remote reference of this session.
  bool reaches_this_peer(detail::Handler* h) const noexcept;
  // Calls, resolves and releases sent to a session that ended break with this.
  Error broken_error() const;

 private:
  friend class CapCodec;
  struct Question {
    detail::Ptr<detail::PromiseBase> result;
    std::vector<RemotePromise*> handlers;  // pipelining handlers (the answer and paths into it)
    // The pending path handlers by path (one path, one handler: path_handler),
    // and how many of them the answer's handler keeps because calls went
    // along them (keep_used_path).
    std::map<std::vector<std::string>, RemotePromise*> paths;
    std::uint32_t kept = 0;  // at most max_kept_paths
    bool canceled = false;   // finish sent before the return
    bool returned = false;   // the id stays taken until our finish is out
    // The question whose promised answer this call targets, if any: while
    // this call is unanswered, that question must not be finished early
    // (captp.md "finish"; sweep_canceled).
    std::optional<std::uint32_t> pipelined_on;
  };
  struct Answer {
    detail::Ptr<detail::PromiseBase> result;
    std::uint64_t serial = 0;  // tells a late return listener whether it still owns the slot
    bool returned = false;
    bool standing = false;
    // A provide or an accept (spec/captp.md 11): the provision table learns
    // of its finish. A provide does not count toward max_answers (H8 bounds it).
    enum class Handoff : std::uint8_t { none, provide, accept } handoff = Handoff::none;
  };
  struct Export {
    detail::HandlerPtr target;
    std::uint32_t count = 0;  // references sent and not yet released by the peer
    bool promise = false;
    std::uint64_t serial = 0;  // tells a late resolve listener whether it still owns the id
  };
  struct Import {
    detail::Handler* handler = nullptr;  // ImportHandler or RemotePromise; not owned
    std::uint32_t count = 0;             // references received, released when the handler goes
    bool resolved = false;               // a promise import had its one resolve (captp.md 3)
    bool promise = false;                // a senderPromise: a resolve may follow
  };

  // session.cpp
  void on_data(std::span<const std::uint8_t> payload);
  void dispatch(wire::Message::Reader m);
  // Builds one message and appends it to the channel's pending frame.
  // Lazy messages (finish, release) need no answer soon: they ride along with
  // the next frame, or leave with the next sweep, instead of costing a frame.
  void send(kj::FunctionParam<void(wire::Message::Builder)> build, bool lazy = false);
  void after_send(bool lazy);
  void on_channel_closed(const Error& e);
  void sweep_canceled();
  // A retired session that went quiet: runs on_quiet_ in a later turn.
  void check_quiet();

  // ops.cpp
  void on_bootstrap(wire::Bootstrap::Reader m);
  void on_call(wire::Call::Reader m);
  void on_return(wire::Return::Reader m);
  void on_finish(wire::Finish::Reader m);
  void on_resolve(wire::Resolve::Reader m);
  void on_release(wire::Release::Reader m);
  void on_disembargo(wire::Disembargo::Reader m);
  void on_unimplemented(wire::Message::Reader m);
  // handoff.cpp (spec/captp.md 11)
  void on_provide(wire::Provide::Reader m);
  void on_accept(wire::Accept::Reader m);
  void on_announce(wire::Announce::Reader m);
  void on_handoff_disembargo(wire::Disembargo::Reader m);
  // H5: the vine, imported, and the handoff promise R made for it.
  Capability read_third_party(wire::ThirdPartyHosted::Reader in);
  // H6, H7 for the handoffs of the message just read.
  void send_accept_for(const detail::Ptr<HandoffRecipient>& h);
  void start_fresh_handoffs();
  // H2-H4: describes import `i` of another session as thirdPartyHosted if
  // every condition of H2 holds; false: describe it as section 4 says.
  bool try_handoff(ImportHandler& i, wire::CapDescriptor::Builder out);
  // H13: the vine `vine` is gone (released, or this session ended): the
  // provides made for it are canceled. `vine` none: all of them.
  void end_introductions(std::optional<std::uint32_t> vine);
  // The message being built was not sent: its provides are canceled (H3).
  void undo_introductions(std::size_t from);
  // `standing`: an answer that stays pending by design (a monitor's
  // __whenBroken); it does not count toward max_answers.
  void new_answer(std::uint32_t qid, detail::Ptr<detail::PromiseBase> result, bool standing = false,
                  Answer::Handoff handoff = Answer::Handoff::none);
  detail::HandlerPtr resolve_target(wire::MessageTarget::Reader t);
  void send_loopback(std::uint32_t eid);
  // A disembargo of the peer will be replied to (bounded, spec/captp.md 7).
  void owe_loopback();

  // The handoff promise `h` of this vat while it holds calls (H7), else null.
  HandoffRecipient* holding_handoff(const detail::Handler* h) const noexcept;
  void write_return(std::uint32_t qid, detail::PromiseBase& p);

  // flow_control.cpp
  // Enters a call read from the peer in the answers (`qid`: it wants a
  // return) and delivers it, holds it while max_answers calls are unanswered,
  // or refuses it (answered `overloaded`) when max_answers are held too.
  void deliver_call(detail::HandlerPtr target, detail::MessagePtr msg, std::optional<std::uint32_t> qid);
  // An unanswered call was answered or finished: deliver what waits.
  void answer_done(const Answer& a);

  // gc.cpp
  void write_cap(const Capability& c, wire::CapDescriptor::Builder out);
  // Whether `h` is an import or remote promise of this session.
  bool is_ours(const detail::Handler* h) const noexcept;
  // Sends the resolves of promises that were settled when a message named
  // them (spec/captp.md 4), after that message.
  void send_due_resolves();
  // The embargo, if any, that holds messages sent to exported promise `p`
  // (embargo.cpp): its resolve waits for it.
  // Whether the resolve of export `id` (promise `p`), or with `answer` the
  // return of answer `id`, must wait for an embargo of ours on its path; if
  // so it is deferred there (embargo.cpp).
  bool resolve_waits(detail::PromiseBase& p, std::uint32_t id, std::uint64_t serial, bool answer = false);
  void forget_export_id(std::uint32_t id, const Export& e);
  Capability read_cap(wire::CapDescriptor::Reader in);
  // The peer's export `id` (senderHosted or senderPromise), imported: one
  // handler per id, its count + 1.
  Capability import_id(std::uint32_t id, bool promise);
  std::uint32_t export_handler(detail::HandlerPtr h, bool promise);
  void release_export(std::uint32_t id, std::uint32_t count);
  // Undoes the exports counted for a message that was not sent.
  void undo_exports(const std::vector<std::uint32_t>& ids);
  // A call whose arguments hold a reference of a kind this version does not
  // know is echoed unimplemented before anything in it is counted; the caller
  // then takes back the export counts the call raised (spec/captp.md 4).
  bool has_unknown_cap(capnp::List<wire::Value>::Reader args) const;
  void undo_echoed_call(wire::Call::Reader call);

  // disconnect.cpp
  void break_everything(const Error& e);

  Vat& vat_;
  std::shared_ptr<SecureChannel> channel_;
  detail::HandlerPtr bootstrap_;
  SessionOptions options_;
  VatId peer_;
  // How the flight recorder names this peer as a sender: "captp:" and the
  // start of its vat id.
  std::string peer_label_;
  bool initiator_ = false;
  Negotiated negotiated_;
  bool open_ = true;
  bool aborting_ = false;
  Error closed_;
  std::function<void(const Error&)> on_closed_;
  bool retired_ = false;
  bool quiet_posted_ = false;
  std::function<void()> on_quiet_;
  Timer sweep_;
  BuilderScratch scratch_;

  SlotTable<Question> questions_;
  SlotTable<Export> exports_;
  PeerTable<Answer> answers_;
  PeerTable<Import> imports_;
  std::unordered_map<const void*, std::uint32_t> export_ids_;  // identity -> export id
  std::uint64_t export_serial_ = 0;
  // Export ids counted by the message being built, to undo if it is not sent
  // (spec/captp.md 6: counts are of references sent); null outside send().
  std::vector<std::uint32_t>* export_journal_ = nullptr;
  // Promise exports (id, serial) that settled while a message naming them
  // was built: resolved right after it goes.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> resolves_due_;
  bool sending_due_ = false;
  // Promise imports we released whose resolve may still be on its way (it may
  // cross our release): such a resolve is ignored, not a violation. At most one
  // per peer id below kMaxPeerId; an id leaves when it is imported again.
  std::unordered_set<std::uint32_t> released_promises_;
  // A peer's disembargo `eid` on session `on` whose reply waits for a chain
  // (spec/captp.md 5, "Chained loopback"); `start` is its target, where its
  // path is walked again if it must wait for a later chain.
  struct ChainWaiter {
    detail::Ptr<Session> on;
    std::uint32_t eid = 0;
    detail::HandlerPtr start;
  };
  // Our disembargoes awaiting their receiverLoopback: the embargo of a
  // promise of ours (null once it is dropped), or a chained loopback along
  // `chain`, which the replies to `waiting` await, and after it those that
  // came once more was sent here (`then`).
  struct Embargo {
    RemotePromise* promise = nullptr;
    std::optional<Target> chain;
    std::vector<ChainWaiter> waiting, then;
  };
  SlotTable<Embargo> embargoes_;
  // The chain in flight per target, and how many messages this session had
  // sent when it went (spec/captp.md 5, "Chained loopback", one per path).
  struct ChainInFlight {
    std::uint32_t embargo = 0;
    std::uint64_t sent_at = 0;
  };
  std::map<Target, ChainInFlight> chains_;
  // Disembargoes of the peer not replied to yet (bounded: spec/captp.md 7).
  std::size_t loopbacks_owed_ = 0;

  // The reply to our chained loopback `eid` arrived.
  void chain_arrived(std::uint32_t eid, Embargo&& e);
  std::uint64_t answer_serial_ = 0;
  std::size_t unanswered_ = 0;
  std::size_t standing_ = 0;  // pending monitor answers (at most max_answers)

  std::uint64_t messages_in_ = 0, messages_out_ = 0;

  // spec/captp.md 11: the node's provision table (null: no handoff), the
  // peer's last announce, and what 11.9 reports.
  std::shared_ptr<ProvisionTable> provisions_;
  std::vector<std::string> announced_hints_;
  std::string dialled_address_;
  // As the introducer, on S_AB (H4): each thirdPartyHosted we sent the peer,
  // until its vine is gone. `result` is the provide's answer on `host`
  // (S_BC); once it settled the provision is over (H9, H13).
  struct Introduction {
    HandoffNonce nonce;
    detail::Ptr<Session> host;
    std::uint32_t qid;
    std::uint32_t vine;
    detail::Ptr<detail::PromiseBase> result;
    bool relayed = false;  // H9: at most once
  };
  std::vector<Introduction> introductions_;
  // As S_AB, the recipient: handoffs not completed, by R; those of the
  // message being read (their accepts leave once it is handled).
  std::unordered_map<const detail::Handler*, detail::Ptr<HandoffRecipient>> handoffs_pending_;
  std::vector<detail::Ptr<HandoffRecipient>> fresh_handoffs_;
  // As S_BC: our provides not yet answered.
  std::unordered_set<std::uint32_t> provide_qids_;
  std::uint64_t handoffs_ = 0, handoff_fallbacks_ = 0;
  std::string last_handoff_fallback_;
};

// Lets the wire codec describe and resolve references through the session's
// tables without the Cap'n Proto interfaces appearing in the session's shape.
class CapCodec final : public CapWriter, public CapReader {
 public:
  explicit CapCodec(Session& s) : s_(s) {}
  void write_cap(const Capability& c, wire::CapDescriptor::Builder out) override { s_.write_cap(c, out); }
  Capability read_cap(wire::CapDescriptor::Reader in) override { return s_.read_cap(in); }

 private:
  Session& s_;
};

}  // namespace vatic::captp
