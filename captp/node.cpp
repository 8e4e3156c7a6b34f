#include "captp/node.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "captp/internal/net/accept_loop.h"
#include "captp/internal/net/channel.h"
#include "captp/internal/net/socket.h"
#include "captp/internal/remote.h"
#include "captp/internal/session.h"
#include "vat/log.h"
#include "vat/message.h"
#include "vat/utf8.h"
#include "vat/vat.h"

namespace vatic::captp {

using detail::HandlerPtr;
using detail::PromiseBase;
using detail::PromiseState;
using detail::Ptr;

namespace {

// spec/log.md, component "captp". `make` builds the event only when some sink
// wants its level: an unheard event costs one compare. Text a peer chose (a
// close reason) goes through utf8::printable; vat ids and transport
// descriptions are ours.
template <class F>
void log_if(Vat& vat, LogLevel level, F make) {
  if (vat.log_enabled(level)) vat.log(make());
}

LogEvent handshake_failed(const char* direction, const std::string& transport, const std::string& reason,
                          const VatId* peer) {
  LogEvent e{
      LogLevel::warn,
      "captp",
      "handshake.failed",
      fmt::format("handshake failed ({}, {}): {}", direction, transport, utf8::printable(reason)),
      {{"direction", direction}, {"transport", utf8::printable(transport)}, {"reason", utf8::printable(reason)}}};
  if (peer) e.fields.push_back({"peer", peer->to_text()});
  return e;
}

}  // namespace

struct Node::State : std::enable_shared_from_this<Node::State> {
  State(Vat& v, Identity id, NodeOptions o) : vat(v), identity(std::move(id)), options(std::move(o)) {
    // spec/captp.md 11.10: the hello offers handoff exactly when the
    // sessions speak it.
    options.channel.offer_handoff = options.session.handoff;
    if (options.session.handoff) provisions = std::make_shared<ProvisionTable>(vat, identity.id(), options.session);
  }

  Vat& vat;
  Identity identity;
  InstanceId instance = InstanceId::generate();
  // The handshake and channel deadlines: the vat's timers on the vat's clock.
  std::shared_ptr<Alarms> alarms = vat_alarms(vat);
  NodeOptions options;
  HandlerPtr bootstrap;
  std::function<HandlerPtr(const VatId&)> bootstrap_for;
  bool closed = false;
  std::shared_ptr<ReserveDescriptor> reserve = std::make_shared<ReserveDescriptor>();
  std::vector<std::shared_ptr<AcceptLoop>> acceptors;
  // A session and what the admin object shows of it beyond its own stats.
  struct Live {
    Ptr<Session> session;
    std::string transport;
    TimePoint opened;
  };
  // captp.md section 9: one session per running peer, keyed by its vat id and
  // instance; ordered, so all sessions with one vat id are adjacent.
  using Key = std::pair<VatId, InstanceId>;
  std::map<Key, Live> sessions;
  // Sessions that lost to a crossing one (captp.md 9), draining until closed.
  std::vector<std::pair<Key, Live>> retired;
  // What waits for a dial in progress, by peer: a bootstrap promise
  // (connect), or a handoff recipient's accept (spec/captp.md 11, H6 3),
  // called with null once a session with the peer started, else with why
  // the dial failed.
  struct Waiter {
    Ptr<PromiseState<Value>> bootstrap;
    std::function<void(const Error*)> handoff;
  };
  std::unordered_map<VatId, std::vector<Waiter>> waiting;
  // The peers of the dials under way that handoffs started (bounded by
  // NodeOptions::max_handoff_dials).
  std::unordered_set<VatId> handoff_dials;
  // Accepted connections in the handshake, in all and by remote address.
  std::size_t handshaking = 0;
  std::map<std::string, std::size_t> handshaking_from;
  NodeStats counters;
  // spec/captp.md 11: the host's provisions, across the sessions (null
  // without handoff). Sessions hold it too; it ends with the last of them.
  std::shared_ptr<ProvisionTable> provisions;

  // An open session with any instance of `peer` that a new reference may
  // use (see adoptable), or null.
  Ptr<Session> open_session(const VatId& peer) const {
    for (auto it = sessions.lower_bound(Key{peer, InstanceId{}}); it != sessions.end() && it->first.first == peer; ++it)
      if (it->second.session->is_open() && adoptable(*it->second.session)) return it->second.session;
    return nullptr;
  }

  // What a listener accepted: admitted within the limits, else closed at once.
  void admit(std::unique_ptr<Stream> s) {
    if (closed) return;
    std::string from = remote_host_key(s->describe());
    auto& n = handshaking_from[from];
    if (handshaking + sessions.size() + retired.size() >= options.max_connections ||
        n >= options.max_handshaking_per_address) {
      if (n == 0) handshaking_from.erase(from);
      ++counters.connections_shed;
      s->close();
      return;
    }
    ++n;
    ++handshaking;
    respond(std::move(s), std::move(from));
  }

  void handshake_ended(const std::string& from) {
    --handshaking;
    if (auto it = handshaking_from.find(from); it != handshaking_from.end() && --it->second == 0)
      handshaking_from.erase(it);
  }

  // `from`: the remote address key of an accepted connection, counted in
  // `handshaking` until the handshake ends; empty for a stream handed over.
  void respond(std::unique_ptr<Stream> s, std::string from) {
    std::weak_ptr<State> w = weak_from_this();
    std::string where = s->describe();
    SecureChannel::respond(
        vat.io(), std::move(s), identity, options.channel,
        [w, from, where](std::shared_ptr<SecureChannel> ch, Error* err) {
          auto self = w.lock();
          if (!self) {
            if (ch) ch->abort(Error{ErrorKind::disconnected, "node closed"});
            return;
          }
          if (!from.empty()) self->handshake_ended(from);
          if (err) {
            ++self->counters.handshakes_failed;
            self->counters.last_handshake_failure = err->reason;
            log_if(self->vat, LogLevel::warn,
                   [&] { return handshake_failed("accepted", where, err->reason, nullptr); });
            return;
          }
          ++self->counters.handshakes_accepted;
          self->add_session(std::move(ch));
        },
        instance, alarms);
  }

  // `address`: what was dialled (canonical text), when known: the hint this
  // vat passes on for the peer if it announces none (spec/captp.md 11, H4).
  void dial(const VatId& peer, std::unique_ptr<Stream> s, std::string address = {}) {
    std::weak_ptr<State> w = weak_from_this();
    std::string where = s->describe();
    SecureChannel::initiate(
        vat.io(), std::move(s), identity, peer, options.channel,
        [w, peer, where, address = std::move(address)](std::shared_ptr<SecureChannel> ch, Error* err) {
          auto self = w.lock();
          if (!self) {
            if (ch) ch->abort(Error{ErrorKind::disconnected, "node closed"});
            return;
          }
          if (err) {
            log_if(self->vat, LogLevel::warn, [&] { return handshake_failed("dialed", where, err->reason, &peer); });
            return self->dial_failed(peer, *err);
          }
          self->add_session(std::move(ch), address);
        },
        instance, alarms);
  }

  void dial_failed(const VatId& peer, const Error& e) {
    handoff_dials.erase(peer);
    auto it = waiting.find(peer);
    if (it == waiting.end()) return;
    auto list = std::move(it->second);
    waiting.erase(it);
    // The peer's own dial reached us while ours was under way, and would
    // have lost to it: with ours gone, it is the session (captp.md 9).
    if (Ptr<Session> s = open_session(peer)) return follow(list, s);
    Error why{e.kind, fmt::format("connecting to {}: {}", peer.to_text(), e.reason)};
    for (auto& w : list) {
      if (w.bootstrap) w.bootstrap->break_with(why);
      if (w.handoff) w.handoff(&why);
    }
  }

  static void follow(std::vector<Waiter>& list, const Ptr<Session>& s) {
    for (auto& w : list) {
      if (w.bootstrap) w.bootstrap->follow(s->bootstrap());
      if (w.handoff) w.handoff(nullptr);
    }
  }

  // spec/captp.md 11, H6 2 and 3: a handoff recipient wants a session with
  // `host`. One with any instance of it (H6 2 decides whether it serves), or
  // a dial under way, is shared; else the hints are dialled in order, each
  // bounded by the connect deadline, the first that connects by the
  // handshake's.
  void dial_for_handoff(const VatId& host, const std::vector<std::string>& hints,
                        std::function<void(const Error*)> done) {
    if (closed) {
      Error e{ErrorKind::disconnected, "node closed"};
      return done(&e);
    }
    if (has_session(host)) return done(nullptr);
    bool dialing = waiting.contains(host);
    if (!dialing && handoff_dials.size() >= options.max_handoff_dials) {
      Error e{ErrorKind::overloaded, fmt::format("{} handoff dials under way already", handoff_dials.size())};
      return done(&e);
    }
    waiting[host].push_back(Waiter{nullptr, std::move(done)});
    if (dialing) return;
    handoff_dials.insert(host);
    std::vector<Address> at;
    for (const std::string& h : hints)
      if (auto a = Address::parse(h)) at.push_back(*a);
    dial_hints(host, std::move(at), 0, "no hint parses as an address");
  }

  bool has_session(const VatId& peer) const {
    auto it = sessions.lower_bound(Key{peer, InstanceId{}});
    return it != sessions.end() && it->first.first == peer && it->second.session->is_open();
  }

  void dial_hints(const VatId& peer, std::vector<Address> at, std::size_t k, std::string last) {
    if (k >= at.size()) return dial_failed(peer, Error{ErrorKind::disconnected, last});
    std::weak_ptr<State> w = weak_from_this();
    Address where = at[k];
    open_stream(where,
                [w, peer, at = std::move(at), k](boost::system::error_code ec, std::unique_ptr<Stream> s) mutable {
                  auto self = w.lock();
                  if (!self) return;
                  if (ec || !s) {
                    std::string why = fmt::format("cannot reach {}: {}", at[k].to_string(), ec.message());
                    return self->dial_hints(peer, std::move(at), k + 1, std::move(why));
                  }
                  self->dial(peer, std::move(s), at[k].to_string());
                });
  }

  // The transport of every dial: NodeOptions::connector, else sockets.
  void open_stream(const Address& at, NodeOptions::StreamDone done) {
    if (options.connector) return options.connector(at, std::move(done));
    async_connect(vat.io(), at, std::move(done), options.connect_timeout);
  }

  // The dialer of a session: what the crossed-connection rule compares.
  VatId dialer(const Session& s) const { return s.is_initiator() ? identity.id() : s.peer(); }

  // Whether bootstrap promises may follow `s` now (captp.md 9, crossed
  // connections): our own dial, or a session dialed by the smaller vat id,
  // beats any session that may still cross it. A session the peer dialed with
  // the larger vat id loses to our dial under way, so it is left alone until
  // that dial ends.
  bool adoptable(const Session& s) const {
    return s.is_initiator() || s.peer() < identity.id() || !waiting.contains(s.peer());
  }

  void add_session(std::shared_ptr<SecureChannel> ch, const std::string& dialled_address = {}) {
    if (closed) return ch->abort(Error{ErrorKind::disconnected, "node closed"});
    VatId peer = ch->peer();
    Key key{peer, ch->peer_instance()};
    Live live{{}, ch->describe(), vat.clock().now()};
    HandlerPtr b = bootstrap_for ? bootstrap_for(peer) : bootstrap;
    auto s = detail::make_ptr<Session>(vat, std::move(ch), std::move(b), options.session, provisions);
    s->set_dialled_address(dialled_address);
    live.session = s;
    auto it = sessions.find(key);
    if (it == sessions.end() || !it->second.session->is_open()) {
      sessions[key] = live;
      start(s, key, live.transport, /*logged=*/true);
      if (adoptable(*s)) attach_waiting(peer, s);
      return;
    }
    Ptr<Session> old = it->second.session;
    VatId d_new = dialer(*s), d_old = dialer(*old);
    if (d_new == d_old) {
      // A second session dialed by one instance replaces the first (the
      // dialer lost it). Other instances of the peer's identity (other
      // processes) have keys of their own and are never compared here.
      it->second = live;
      start(s, key, live.transport, /*logged=*/true);
      old->close(fmt::format("replaced by a new session dialed by {}", d_new.to_text()));
      return attach_waiting(peer, s);
    }
    // Crossed connections (captp.md 9): the session dialed by the smaller
    // vat id is the node's session; the other retires. References already
    // made through the loser stay on it (a settled reference cannot move to
    // another session, and moving one with calls in flight would reorder
    // them), so it drains until its dialer sees it quiet and closes it.
    if (d_new < d_old) {
      Live lost = std::exchange(it->second, live);
      start(s, key, live.transport, /*logged=*/true);
      retire(key, std::move(lost), /*started=*/true);
      return attach_waiting(peer, s);
    }
    retire(key, std::move(live), /*started=*/false);
    attach_waiting(peer, old);  // our own dial lost: its promises follow the winner
  }

  // Puts a losing session (no longer, or never, the entry in `sessions`) in
  // `retired`; one not started yet starts unlogged (spec/log.md: a crossed
  // connection that loses at once is not the node's session).
  void retire(const Key& key, Live live, bool started) {
    Ptr<Session> s = live.session;
    if (started && !s->is_open()) return;  // already gone from the node's lists
    retired.emplace_back(key, std::move(live));
    if (!started) start(s, key, retired.back().second.transport, /*logged=*/false);
    if (!s->is_open()) return;
    if (!s->is_initiator()) return s->retire(nullptr);  // the dialer closes it
    Session* raw = s.get();                             // the session holds the callback: it outlives it
    s->retire([raw, winner = identity.id() < raw->peer() ? identity.id() : raw->peer()] {
      raw->close(fmt::format("crossed connection: keeping the session dialed by {}", winner.to_text()));
    });
  }

  void start(const Ptr<Session>& s, const Key& key, const std::string& transport, bool logged) {
    std::weak_ptr<State> w = weak_from_this();
    Session* raw = s.get();
    const char* direction = s->is_initiator() ? "dialed" : "accepted";
    if (logged)
      log_if(vat, LogLevel::info, [&] {
        std::string peer = s->peer().to_text();
        return LogEvent{LogLevel::info,
                        "captp",
                        "session.opened",
                        fmt::format("session with {} opened ({}, {})", peer, direction, transport),
                        {{"peer", peer}, {"direction", direction}, {"transport", utf8::printable(transport)}}};
      });
    // The vat outlives its sessions (they run on it), so the close is logged
    // even when the node went first.
    s->start([w, raw, key, v = &vat, direction, transport, logged](const Error& why) {
      if (logged)
        log_if(*v, LogLevel::info, [&] {
          std::string peer = raw->peer().to_text(), reason = utf8::printable(why.reason);
          return LogEvent{LogLevel::info,
                          "captp",
                          "session.closed",
                          fmt::format("session with {} closed: {}", peer, reason),
                          {{"peer", peer},
                           {"direction", direction},
                           {"transport", utf8::printable(transport)},
                           {"reason", reason}}};
        });
      auto self = w.lock();
      if (!self) return;
      auto it = self->sessions.find(key);
      if (it != self->sessions.end() && it->second.session.get() == raw) self->sessions.erase(it);
      std::erase_if(self->retired, [raw](const auto& r) { return r.second.session.get() == raw; });
    });
  }

  void attach_waiting(const VatId& peer, const Ptr<Session>& s) {
    handoff_dials.erase(peer);
    auto it = waiting.find(peer);
    if (it == waiting.end()) return;
    auto list = std::move(it->second);
    waiting.erase(it);
    follow(list, s);
  }
};

Node::Node(Vat& vat, Identity identity, NodeOptions options)
    : state_(std::make_shared<State>(vat, std::move(identity), std::move(options))) {
  // spec/captp.md 11, H6 3: the sessions' handoffs dial through the node,
  // unless it is configured not to (H6: the recipient then falls back at
  // once, saying that this vat does not dial for handoffs).
  std::weak_ptr<State> w = state_;
  if (state_->provisions && state_->options.handoff_dial)
    state_->provisions->set_dial(
        [w](const VatId& host, const std::vector<std::string>& hints, std::function<void(const Error*)> done) {
          auto self = w.lock();
          if (!self) {
            Error e{ErrorKind::disconnected, "node closed"};
            return done(&e);
          }
          self->dial_for_handoff(host, hints, std::move(done));
        });
  // H1: addresses configured to be announced replace the bound ones.
  if (state_->provisions)
    for (const Address& a : state_->options.announce) state_->provisions->add_hint(a.to_string());
}

Node::~Node() { close("node destroyed"); }

const VatId& Node::id() const noexcept { return state_->identity.id(); }
const InstanceId& Node::instance() const noexcept { return state_->instance; }
const Identity& Node::identity() const noexcept { return state_->identity; }
Vat& Node::vat() const noexcept { return state_->vat; }

void Node::set_bootstrap_handler(HandlerPtr h) { state_->bootstrap = std::move(h); }

void Node::set_bootstrap_factory(std::function<HandlerPtr(const VatId&)> f) { state_->bootstrap_for = std::move(f); }

Address Node::listen(std::string_view at) {
  auto a = Address::parse(at);
  if (!a) throw_error(ErrorKind::failed, fmt::format("bad listen address {:?}: {}", at, a.error()));
  return listen(*a);
}

Address Node::listen(const Address& at) {
  std::weak_ptr<State> w = state_;
  auto loop = std::make_shared<AcceptLoop>(state_->vat.io(), captp::listen(state_->vat.io(), at), state_->reserve,
                                           [w](std::unique_ptr<Stream> s) {
                                             if (auto self = w.lock()) self->admit(std::move(s));
                                           });
  Address bound = loop->local_address();
  log_if(state_->vat, LogLevel::info, [&] {
    std::string where = utf8::printable(bound.to_string());
    return LogEvent{LogLevel::info,
                    "captp",
                    "listen.started",
                    fmt::format("listening on {}", where),
                    {{"address", where}, {"vat_id", id().to_text()}}};
  });
  state_->acceptors.push_back(loop);
  loop->start();
  // spec/captp.md 11, H1: where handoff recipients may dial us. A wildcard
  // bind names no address anyone can dial.
  // Configured addresses (NodeOptions::announce) replace the bound ones.
  bool wildcard = bound.kind == Address::Kind::tcp && (bound.host == "0.0.0.0" || bound.host == "::");
  if (state_->provisions && !wildcard && state_->options.announce.empty())
    state_->provisions->add_hint(bound.to_string());
  return bound;
}

void Node::accept(std::unique_ptr<Stream> stream) { state_->respond(std::move(stream), {}); }

HandlerPtr Node::connect_handler(const VatId& peer, const Address* at, std::unique_ptr<Stream> stream) {
  State& st = *state_;
  if (peer == id()) throw_error(ErrorKind::failed, "a vat does not connect to itself");
  if (Ptr<Session> open = st.open_session(peer)) return open->bootstrap();
  auto p = detail::make_ptr<PromiseState<Value>>(&st.vat);
  if (st.closed) {
    p->break_with(Error{ErrorKind::disconnected, "node closed"});
    return p;
  }
  auto& list = st.waiting[peer];
  bool dialing = !list.empty();
  list.push_back(State::Waiter{p, nullptr});
  if (dialing && !stream) return p;  // a dial to this peer is under way: share it
  if (stream) {
    st.dial(peer, std::move(stream));
    return p;
  }
  std::weak_ptr<State> w = state_;
  st.open_stream(*at, [w, peer, where = at->to_string()](boost::system::error_code ec, std::unique_ptr<Stream> s) {
    auto self = w.lock();
    if (!self) return;
    if (ec || !s)
      return self->dial_failed(peer,
                               Error{ErrorKind::disconnected, fmt::format("cannot reach {}: {}", where, ec.message())});
    self->dial(peer, std::move(s), where);
  });
  return p;
}

std::optional<VatId> Node::route_of(const detail::Handler* h) const {
  // Settled promises forward; a chain longer than any the protocol makes is
  // not followed to its end (a cycle breaks its promises, model.md).
  for (int steps = 0; h && steps < 256; ++steps, h = h->forwards_to()) {
    // A promise that settled but holds calls under an embargo sends nothing
    // now; if its session ends first, the held calls break (spec/captp.md 8).
    if (auto* p = dynamic_cast<const RemotePromise*>(h); p && p->state() == RemotePromise::State::embargoed)
      return std::nullopt;
    if (auto* i = dynamic_cast<const ImportHandler*>(h)) {
      if (i->kind() == detail::RefKind::broken || !i->session() || &i->session()->vat() != &state_->vat)
        return std::nullopt;
      return i->session()->peer();
    }
  }
  return std::nullopt;
}

std::vector<SessionInfo> Node::sessions() const {
  std::vector<SessionInfo> out;
  auto add = [&](const State::Key& key, const State::Live& l) {
    const Session& s = *l.session;
    bool open = s.is_open() && !s.is_retired();
    out.push_back(SessionInfo{.peer = key.first,
                              .peer_instance = key.second,
                              .version = s.negotiated().version,
                              .features = s.negotiated().feature_names(),
                              .initiator = s.is_initiator(),
                              .open = open,
                              .retired = s.is_retired(),
                              .transport = l.transport,
                              .opened = l.opened,
                              .stats = s.stats()});
  };
  for (auto& [key, l] : state_->sessions) add(key, l);
  for (auto& [key, l] : state_->retired) add(key, l);
  return out;
}

Value Node::sessions_info() const {
  TimePoint now = state_->vat.clock().now();
  std::vector<SessionInfo> all = sessions();
  std::sort(all.begin(), all.end(), [](const SessionInfo& a, const SessionInfo& b) { return a.opened < b.opened; });
  List out;
  for (const SessionInfo& i : all) {
    auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - i.opened).count();
    List features;
    for (const std::string& f : i.features) features.push_back(Value(f));
    Record r{"session", {}};
    r.fields = {{"peer", i.peer.to_text()},
                {"direction", i.initiator ? "dialed" : "accepted"},
                {"address", i.transport},
                {"state", i.open ? "open" : "closing"},
                {"age_ms", std::max<std::int64_t>(age, 0)},
                {"version", i.version.to_string()},
                {"features", features},
                {"imports", i.stats.imports},
                {"exports", i.stats.exports},
                {"questions", i.stats.questions},
                {"answers", i.stats.answers},
                {"embargoes", i.stats.embargoes},
                {"messages_in", i.stats.messages_in},
                {"messages_out", i.stats.messages_out}};
    if (std::find(i.features.begin(), i.features.end(), "handoff") != i.features.end()) {
      // spec/captp.md 11.9.
      r.fields.push_back({"provisions", i.stats.provisions});
      r.fields.push_back({"waiting_accepts", i.stats.waiting_accepts});
      r.fields.push_back({"handoffs", i.stats.handoffs});
      r.fields.push_back({"handoff_fallbacks", i.stats.handoff_fallbacks});
      if (!i.stats.last_handoff_fallback.empty())
        r.fields.push_back({"last_handoff_fallback", i.stats.last_handoff_fallback});
    }
    out.push_back(Value(std::move(r)));
  }
  return Value(std::move(out));
}

NodeStats Node::stats() const {
  NodeStats s = state_->counters;
  s.sessions = state_->sessions.size() + state_->retired.size();
  s.handshaking = state_->handshaking;
  for (const auto& loop : state_->acceptors) {
    const AcceptLoop::Stats& a = loop->stats();
    s.accept_failures += a.accept_failures;
    s.descriptors_exhausted += a.descriptors_exhausted;
    s.connections_shed += a.shed;
    if (!a.last_failure.empty()) s.last_accept_failure = a.last_failure;
  }
  return s;
}

void Node::disconnect(const VatId& peer, const std::string& reason) {
  std::vector<Ptr<Session>> of_peer;
  auto& all = state_->sessions;
  for (auto it = all.lower_bound(State::Key{peer, InstanceId{}}); it != all.end() && it->first.first == peer; ++it)
    of_peer.push_back(it->second.session);
  for (auto& [key, l] : state_->retired)
    if (key.first == peer) of_peer.push_back(l.session);
  for (auto& s : of_peer) s->close(reason);
}

void Node::close(const std::string& reason) {
  State& st = *state_;
  if (st.closed) return;
  st.closed = true;
  for (auto& a : st.acceptors) a->close();
  st.acceptors.clear();
  auto sessions = std::move(st.sessions);
  auto retired = std::move(st.retired);
  for (auto& [peer, l] : sessions) l.session->close(reason);
  for (auto& [peer, l] : retired) l.session->close(reason);
  auto waiting = std::move(st.waiting);
  Error gone{ErrorKind::disconnected, fmt::format("node closed: {}", reason)};
  for (auto& [peer, list] : waiting)
    for (auto& w : list) {
      if (w.bootstrap) w.bootstrap->break_with(gone);
      if (w.handoff) w.handoff(&gone);
    }
}

}  // namespace vatic::captp
