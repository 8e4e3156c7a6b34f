// Node: a vat's presence on the network. It holds the vat's identity (its
// Ed25519 key pair: the vat id is the public key), listens on addresses,
// dials other vats by vat id, and keeps one CapTP session per running peer
// (vat id and instance: one identity may run in several processes at once,
// and each keeps its own session; spec/captp.md section 9). A remote vat is
// reached only through its bootstrap object, and the dial succeeds only if
// the far end proves it holds the key the vat id names.
//
// Threads: a Node belongs to its vat and every call happens on the vat's
// thread (inside a turn, or before the vat runs elsewhere). Its sockets run on
// the vat's io_context, so the vat's loop drives them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "captp/address.h"
#include "captp/identity.h"
#include "captp/options.h"
#include "captp/protocol.h"
#include "captp/stream.h"
#include "vat/ref.h"
#include "vat/value.h"

namespace vatic {
class Vat;
}

namespace vatic::captp {

class Stream;

struct NodeOptions {
  ChannelOptions channel;
  SessionOptions session;
  // Bounds resolving and connecting; the handshake has its own deadline.
  Duration connect_timeout = std::chrono::seconds(10);
  // Connections held at once (sessions and accepted handshakes): one accepted
  // beyond it is closed at once. Sized below the usual open-file limit (1024)
  // so that the limit, not EMFILE, is what a flood meets.
  std::size_t max_connections = 900;
  // Accepted connections still in the handshake from one remote address (TCP
  // host; all unix socket peers count as one): beyond it, closed at once, so
  // one host cannot hold every slot for a handshake deadline each.
  std::size_t max_handshaking_per_address = 64;
  // Dials to handoff hosts under way at once (spec/captp.md 11, H6 3). Hosts
  // and hints come from introducers: without a bound, a peer sending
  // descriptors that name many hosts would make this vat open connections
  // for it. Beyond it a handoff falls back to the introducer's proxy (H12).
  std::size_t max_handoff_dials = 16;
  // Whether this node dials a handoff's host it has no session with
  // (spec/captp.md 11, H6 3). False: "a node configured not to dial for
  // handoffs" (H6): such a handoff falls back to the introducer's proxy at
  // once (H12), with that reason; a session with the host that is open
  // already is still used.
  bool handoff_dial = true;
  // spec/captp.md 11, H1: the addresses this vat announces to its peers,
  // which pass them on to the vats they introduce to it, instead of those
  // that listen() binds. Empty: the bound ones, wildcards excepted. Set them
  // when those are not what others can dial (a wildcard bind, NAT, a name:
  // `vatic serve --advertise`; a simulated vat).
  std::vector<Address> announce;
  // How the node opens a connection to an address when it dials (connect()
  // with an address, the hints of a handoff). Empty: TCP or unix sockets,
  // bounded by connect_timeout. A simulation puts its own transport here.
  // `done` runs exactly once, on the vat's thread and never inside the call,
  // with the stream or why there is none; the handshake follows as for any
  // dial.
  using StreamDone = std::function<void(boost::system::error_code, std::unique_ptr<Stream>)>;
  std::function<void(const Address& at, StreamDone done)> connector;
};

struct SessionInfo {
  VatId peer;
  InstanceId peer_instance;  // which of the peer's running Nodes
  // spec/handshake.md "Version and features": the version the session speaks
  // (the lower minor of the two) and the features both sides offered.
  ProtocolVersion version;
  std::vector<std::string> features;
  bool initiator = false;
  bool open = true;  // false while a close is under way (retired included)
  // A crossed connection's losing session (spec/captp.md 9): it serves what
  // was made through it and closes once quiet; nothing new uses it.
  bool retired = false;
  std::string transport;  // "tcp 127.0.0.1:7447", "unix /run/v.sock" (the channel's describe())
  TimePoint opened{};     // on the vat's clock
  SessionStats stats;
};

struct NodeStats {
  std::size_t sessions = 0;
  std::size_t handshaking = 0;  // accepted connections still in the handshake
  std::uint64_t handshakes_accepted = 0, handshakes_failed = 0;
  std::string last_handshake_failure;
  // Accepting: failures (each followed by a growing back-off, never a spin),
  // of which the open-file limit (EMFILE, ENFILE); connections closed at once
  // because a limit was reached (max_connections, max_handshaking_per_address,
  // or the spare descriptor spent at the open-file limit).
  std::uint64_t accept_failures = 0, descriptors_exhausted = 0, connections_shed = 0;
  std::string last_accept_failure;
};

class Node {
 public:
  Node(Vat& vat, Identity identity, NodeOptions options = {});
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Closes every session and listener.
  ~Node();

  const VatId& id() const noexcept;
  // This running Node among the processes that share its identity (drawn at
  // construction; spec/handshake.md).
  const InstanceId& instance() const noexcept;
  // Expires when the node is destroyed: what a callback that may run later
  // (a retry, a continuation) checks before touching the node.
  std::weak_ptr<const void> lifetime() const noexcept { return state_; }
  const Identity& identity() const noexcept;
  Vat& vat() const noexcept;

  // The object every authenticated peer may ask for (CapTP bootstrap). Without
  // one, bootstrap requests break with `unimplemented`.
  template <class T>
  void set_bootstrap(const Ref<T>& r) {
    set_bootstrap_handler(detail::RefAccess::handler(r));
  }

  // A bootstrap object made for each session, given the peer's authenticated
  // vat id: how an object learns who is calling without trusting a claim in
  // the request (a token bound to a holder is checked against this id).
  // `make(peer)` returns a Ref; it replaces a bootstrap set with set_bootstrap.
  template <class F>
  void set_bootstrap_for(F make) {
    set_bootstrap_factory(
        [make = std::move(make)](const VatId& peer) { return detail::RefAccess::handler(make(peer)); });
  }

  // Listens on `at` (host:port, unix:/path; port 0 picks one) and returns the
  // address actually bound. Throws VatError on failure.
  Address listen(const Address& at);
  Address listen(std::string_view at);

  // The bootstrap object of vat `peer`, dialing `at` unless a session with
  // `peer` exists (with any of its instances). The reference is a promise: send to it at once (the sends
  // wait for the handshake). It breaks with `disconnected` if `at` cannot be
  // reached or the vat there does not hold `peer`'s key (XK: such a responder
  // can only hang up; the reason names the vat id that was expected).
  template <class T = Object>
  Ref<T> connect(const VatId& peer, const Address& at) {
    return detail::RefAccess::make<T>(connect_handler(peer, &at, nullptr));
  }
  // As above over a stream already connected (an in-memory pipe, a socket
  // handed over by a supervisor).
  template <class T = Object>
  Ref<T> connect(const VatId& peer, std::unique_ptr<Stream> stream) {
    return detail::RefAccess::make<T>(connect_handler(peer, nullptr, std::move(stream)));
  }
  // Serves a connected stream as the responder (the other end calls connect).
  void accept(std::unique_ptr<Stream> stream);

  // Where this node sends the calls made on `r` now: the vat id of the peer
  // of the session `r` is imported over, following promises that settled;
  // nullopt for an object of this vat, a promise still pending or holding
  // calls under an embargo, a broken reference, or a reference of another
  // vat. It shows, for an operator or
  // a test, whether a handed-off reference switched to its host (spec/captp.md
  // 11, H11) or goes through the introducer's proxy (H12).
  template <class T>
  std::optional<VatId> route(const Ref<T>& r) const {
    return route_of(detail::RefAccess::handler(r).get());
  }

  std::vector<SessionInfo> sessions() const;
  // The same as a list of "session" records for the admin object
  // (spec/admin.md): peer, direction ("dialed" or "accepted"), address, state
  // ("open" or "closing"), age_ms, version ("1.0"), features (list of names),
  // imports, exports, questions, answers, embargoes, messages_in, messages_out. Peers are vat ids; addresses are ours
  // to describe, never text the peer chose.
  Value sessions_info() const;
  NodeStats stats() const;
  // Ends the sessions with `peer` (every instance), if any; their references break.
  void disconnect(const VatId& peer, const std::string& reason);
  // Ends every session and listener.
  void close(const std::string& reason = "node closed");

  struct State;

 private:
  void set_bootstrap_handler(detail::HandlerPtr h);
  void set_bootstrap_factory(std::function<detail::HandlerPtr(const VatId&)> f);
  std::optional<VatId> route_of(const detail::Handler* h) const;
  detail::HandlerPtr connect_handler(const VatId& peer, const Address* at, std::unique_ptr<Stream> stream);

  std::shared_ptr<State> state_;
};

}  // namespace vatic::captp
