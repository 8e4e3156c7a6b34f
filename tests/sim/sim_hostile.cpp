// The hostile vat (sim_hostile.h): its sessions, the raw messages it writes,
// and the checks on the answers honest hosts give it (spec/captp.md 11).
#include "tests/sim/sim_hostile.h"

#include <capnp/serialize.h>
#include <fmt/format.h>

#include <algorithm>

#include "captp/internal/net/alarm.h"
#include "captp/internal/net/channel.h"

namespace vatic::sim::internal {

namespace wire = captp::wire;

namespace {

kj::ArrayPtr<const kj::byte> bytes_of(std::span<const std::uint8_t> v) { return kj::arrayPtr(v.data(), v.size()); }
std::vector<std::uint8_t> to_vector(capnp::Data::Reader d) { return {d.begin(), d.end()}; }

// The only answer H10 allows an accept that names a provision of another
// recipient, or one already taken: refused, with no hint why; or overloaded
// or disconnected when it had to wait (the provision was gone already).
bool refused_as_h10_says(const Error& e) {
  return (e.kind == ErrorKind::failed && e.reason == "no provision for this accept") ||
         e.kind == ErrorKind::overloaded || e.kind == ErrorKind::disconnected;
}

}  // namespace

struct Hostile::Session {
  std::size_t vat = 0;
  std::shared_ptr<captp::SecureChannel> ch;
  bool open = false, ended = false;
  std::optional<std::uint32_t> boot;  // the host's bootstrap export id here
  std::uint32_t next_question = 1;
  std::map<std::uint32_t, Question> questions;
};

Hostile::Hostile(Net& net, Trace& trace, std::uint64_t seed, Hooks hooks)
    : net_(net), trace_(trace), choose_(seed), hooks_(std::move(hooks)), identity_([&] {
        // From its own chooser, not libsodium's stream (Identity::generate
        // would move every honest key drawn after it). Half of all seeds
        // give a key that is no vat id (sign bit set): draw again.
        for (;;) {
          std::array<std::uint8_t, 32> b{};
          for (auto& x : b) x = static_cast<std::uint8_t>(choose_.below(256));
          try {
            return captp::Identity::from_seed(Secret<32>::from(b));
          } catch (const VatError&) {
          }
        }
      }()) {
  loop_ = std::make_unique<Vat>(
      VatOptions{.name = "hostile", .clock = &net_.clock(), .spin_before_block = Duration::zero()});
  net_.set_outsider(loop_.get());
  trace_.add(fmt::format("hostile vat {}", id().to_text().substr(0, 8)));
}

Hostile::~Hostile() {
  leaving_ = true;
  for (auto& s : sessions_)
    if (s->ch) s->ch->abort(Error{ErrorKind::disconnected, "sim: the hostile vat is gone"});
  sessions_.clear();
  // Its links drop what they hold of its channels while its loop still
  // exists (an alarm outliving its loop's timers is a use after free).
  net_.detach_outsider();
  loop_->release();
  loop_.reset();
}

void Hostile::attach_all() {
  for (std::size_t v = 0; v < net_.size(); ++v)
    if (net_.at(v).up()) sessions_.push_back(open_session(v));
}

bool Hostile::settled() const {
  return std::all_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return s->open || s->ended; });
}

std::string Hostile::unanswered() const {
  std::string out;
  for (const auto& s : sessions_) {
    if (!s->open || !net_.at(s->vat).up()) continue;
    for (const auto& [id, q] : s->questions) out += fmt::format(" v{} question {} ({});", s->vat, id, q.what);
  }
  return out;
}

std::shared_ptr<Hostile::Session> Hostile::open_session(std::size_t to) {
  auto s = std::make_shared<Session>();
  s->vat = to;
  captp::ChannelOptions co = net_.config().node.channel;
  co.offer_handoff = true;
  std::weak_ptr<Session> weak = s;
  // Its deadlines (handshake, idle) run on the sim's clock, through its
  // loop's timers, as a Node's do (vat/clock.h).
  captp::SecureChannel::initiate(
      loop_->io(), net_.attach(to), identity_, net_.at(to).identity->id(), co,
      [this, weak](std::shared_ptr<captp::SecureChannel> ch, Error* e) {
        auto s = weak.lock();
        if (!s || leaving_) return;
        if (!ch) {
          trace_.add(fmt::format("hostile: handshake with v{} failed: {}", s->vat, e ? to_string(*e) : "?"));
          s->ended = true;
          return;
        }
        s->ch = std::move(ch);
        s->open = true;
        trace_.add(fmt::format("hostile: session with v{} open", s->vat));
        s->ch->start(
            [this, weak](std::span<const std::uint8_t> b) {
              if (auto s = weak.lock()) on_data(s, b);
            },
            [this, weak](const Error& e) {
              auto s = weak.lock();
              if (!s) return;
              s->open = false;
              s->ended = true;
              trace_.add(fmt::format("hostile: session with v{} ended: {}", s->vat, to_string(e)));
            });
        ask(*s, Question{Ask::bootstrap, "bootstrap"});
        // A replay waiting for this session goes as soon as it is open.
        flush_replays();
      },
      captp::InstanceId::generate(), captp::vat_alarms(*loop_));
  return s;
}

template <class Build>
void Hostile::send(Session& s, Build&& build) {
  if (!s.open || !s.ch) return;
  capnp::MallocMessageBuilder b;
  build(b.initRoot<wire::Message>());
  auto flat = capnp::messageToFlatArray(b);
  auto bytes = flat.asBytes();
  auto& buf = s.ch->begin_append();
  buf.insert(buf.end(), bytes.begin(), bytes.end());
  s.ch->end_message();
  s.ch->request_flush();
}

std::uint32_t Hostile::ask(Session& s, Question q) {
  std::uint32_t id = s.next_question++;
  if (q.ask == Ask::bootstrap) send(s, [&](wire::Message::Builder m) { m.initBootstrap().setQuestionId(id); });
  s.questions[id] = std::move(q);
  return id;
}

void Hostile::on_data(const std::shared_ptr<Session>& s, std::span<const std::uint8_t> payload) {
  // The channel hands whole messages (a frame holds one or more).
  auto words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload.data()), payload.size() / 8);
  while (words.size() > 0) {
    capnp::FlatArrayMessageReader r(words);
    on_message(*s, r.getRoot<wire::Message>());
    words = kj::arrayPtr(r.getEnd(), words.end());
  }
}

void Hostile::on_message(Session& s, wire::Message::Reader m) {
  switch (m.which()) {
    case wire::Message::BOOTSTRAP: {
      // Our one export, id 0: every call to it is refused (on_call).
      std::uint32_t q = m.getBootstrap().getQuestionId();
      send(s, [&](wire::Message::Builder o) {
        auto r = o.initReturn();
        r.setAnswerId(q);
        r.initValue().initCap().setSenderHosted(0);
      });
      return;
    }
    case wire::Message::CALL: return on_call(s, m.getCall());
    case wire::Message::RETURN: return on_return(s, m.getReturn());
    case wire::Message::ACCEPT: {
      // A hostile host answers in bounded time (11.5), with a refusal.
      std::uint32_t q = m.getAccept().getQuestionId();
      send(s, [&](wire::Message::Builder o) {
        auto r = o.initReturn();
        r.setAnswerId(q);
        captp::write_error(Error{ErrorKind::failed, "sim: hostile host refuses the accept"}, r.initError());
      });
      return;
    }
    case wire::Message::DISEMBARGO: {
      // Loopbacks are answered at once (we forward nothing); the embargo of a
      // handoff through us is never relayed (H9): the host refuses that
      // accept when the provision expires and the recipient falls back.
      auto d = m.getDisembargo();
      std::optional<std::uint32_t> id;
      if (d.isSenderLoopback()) id = d.getSenderLoopback();
      if (d.isChainedLoopback()) id = d.getChainedLoopback();
      if (!id) return;
      send(s, [&](wire::Message::Builder o) {
        auto r = o.initDisembargo();
        r.initTarget().setImportedCap(0);
        r.setReceiverLoopback(*id);
      });
      return;
    }
    case wire::Message::ABORT: {
      // No honest vat may abort us: everything we send is well formed, and
      // spec/captp.md 11 answers every handoff abuse with an error.
      Error e = captp::read_error(m.getAbort());
      trace_.add(fmt::format("hostile: v{} aborts: {}", s.vat, to_string(e)));
      if (e.reason.find("replaced by a new session") == std::string::npos &&
          e.reason.find("crossed connection") == std::string::npos)
        hooks_.fail(fmt::format("v{} aborted the hostile vat's session: {}", s.vat, to_string(e)));
      return;
    }
    case wire::Message::UNIMPLEMENTED:
      hooks_.fail(fmt::format("v{} did not understand a message of the hostile vat", s.vat));
      return;
    default:
      // Provides at us stay unanswered (H14 bounds them at the provider);
      // releases, finishes, resolves and announces change nothing here.
      return;
  }
}

void Hostile::on_call(Session& s, wire::Call::Reader c) {
  // Any descriptor in the arguments is a ticket: an honest introducer's
  // provision for us (H4).
  for (auto v : c.getArgs()) {
    if (!v.isCap() || !v.getCap().isThirdPartyHosted()) continue;
    auto t = v.getCap().getThirdPartyHosted();
    tickets_.push_back(
        Ticket{{net_.at(s.vat).identity->id().bytes().begin(), net_.at(s.vat).identity->id().bytes().end()},
               to_vector(t.getHost()),
               to_vector(t.getNonce())});
    ++counts_.tickets;
    trace_.add(fmt::format("hostile: v{} introduces it (ticket {})", s.vat, tickets_.size() - 1));
    // Mostly at once, as an honest recipient would (later, the provision
    // may have expired: 11.8).
    if (!stopped_ && !leaving_ && choose_.chance(80)) accept_ticket(tickets_.size() - 1);
  }
  if (!c.getSendReturn()) return;
  std::uint32_t q = c.getQuestionId();
  send(s, [&](wire::Message::Builder o) {
    auto r = o.initReturn();
    r.setAnswerId(q);
    captp::write_error(Error{ErrorKind::failed, "sim: hostile vat refuses the call"}, r.initError());
  });
}

void Hostile::on_return(Session& s, wire::Return::Reader r) {
  std::uint32_t q = r.getAnswerId();
  auto it = s.questions.find(q);
  if (it == s.questions.end()) return;
  Question asked = std::move(it->second);
  s.questions.erase(it);
  send(s, [&](wire::Message::Builder o) { o.initFinish().setQuestionId(q); });
  bool value = r.isValue();
  std::optional<Error> error;
  if (r.isError()) error = captp::read_error(r.getError());
  trace_.add(fmt::format("hostile: v{} answers {}: {}", s.vat, asked.what,
                         value   ? "a value"
                         : error ? to_string(*error)
                                 : "canceled"));
  switch (asked.ask) {
    case Ask::bootstrap:
      if (value && r.getValue().isCap() && r.getValue().getCap().isSenderHosted())
        s.boot = r.getValue().getCap().getSenderHosted();
      return;
    case Ask::provide_untold:
      // H10: no vat can accept a provision whose nonce nobody learnt.
      if (value) hooks_.fail(fmt::format("v{} honoured {}, whose nonce no vat knew", s.vat, asked.what));
      return;
    case Ask::accept_first:
      if (!value) return;
      if (tickets_.at(asked.ticket).honoured)
        return hooks_.fail(fmt::format("v{} honoured ticket {}'s nonce twice", s.vat, asked.ticket));
      tickets_.at(asked.ticket).honoured = true;
      return;
    case Ask::must_refuse:
      if (value)
        return hooks_.fail(fmt::format("v{} honoured {} (H10 3, 4: receiver binding, once)", s.vat, asked.what));
      ++counts_.refused;
      if (error && !refused_as_h10_says(*error))
        hooks_.fail(fmt::format("v{} refused {} otherwise than H10 says: {}", s.vat, asked.what, to_string(*error)));
      return;
    case Ask::forbidden_call:
      if (value) hooks_.fail(fmt::format("v{} answered {} with a value", s.vat, asked.what));
      return;
    case Ask::provide_told:
    case Ask::other: return;
  }
}

Hostile::Session* Hostile::ready(std::size_t v) {
  for (auto& s : sessions_)
    if (s->vat == v && s->open && s->boot && net_.at(v).up()) return s.get();
  return nullptr;
}

std::vector<std::uint8_t> Hostile::nonce() {
  std::vector<std::uint8_t> n(32);
  for (auto& x : n) x = static_cast<std::uint8_t>(choose_.below(256));
  return n;
}

std::size_t Hostile::other_vat(std::size_t not_this) {
  std::size_t v = choose_.below(net_.size() - 1);
  return v >= not_this ? v + 1 : v;
}

void Hostile::act() {
  if (leaving_ || stopped_) return;
  flush_replays();
  if (!choose_.chance(5)) return;
  // A vat restarted since we last saw it: we come back too.
  for (std::size_t v = 0; v < net_.size(); ++v) {
    bool live =
        std::any_of(sessions_.begin(), sessions_.end(), [&](const auto& s) { return s->vat == v && !s->ended; });
    if (!live && net_.at(v).up()) sessions_.push_back(open_session(v));
  }
  std::vector<Session*> hosts;
  for (std::size_t v = 0; v < net_.size(); ++v)
    if (Session* s = ready(v)) hosts.push_back(s);
  // Floods are big: fewer of them.
  std::uint64_t what = choose_.below(10);
  if (what < 2) return accept_ticket();
  if (what < 4) return replay_ticket();
  if (hosts.empty()) return;
  Session& c = *choose_.pick(hosts);
  if (what < 5) return flood(c);
  if (what < 7) return wrong_recipient(c);
  misdirect(c);
}

void Hostile::flood(Session& c) {
  // spec/captp.md 11.8: past max_provisions the oldest end first.
  std::size_t bound = net_.config().node.session.max_provisions;
  std::size_t n = 1 + choose_.below(2 * bound + 2);
  const VatId& a = net_.at(other_vat(c.vat)).identity->id();
  trace_.add(fmt::format("hostile: floods v{} with {} provides", c.vat, n));
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t q = ask(c, Question{Ask::provide_untold, "a flooding provide"});
    auto no = nonce();
    send(c, [&](wire::Message::Builder m) {
      auto p = m.initProvide();
      p.setQuestionId(q);
      p.initTarget().setImportedCap(*c.boot);
      p.setRecipient(bytes_of(a.bytes()));
      p.setNonce(bytes_of(no));
    });
    ++counts_.provides;
  }
}

void Hostile::wrong_recipient(Session& c) {
  // H8 then H10 3: we provide for A and accept ourselves.
  std::size_t a = other_vat(c.vat);
  auto no = nonce();
  std::uint32_t q = ask(c, Question{Ask::provide_untold, fmt::format("a provide for v{} we accepted ourselves", a)});
  send(c, [&](wire::Message::Builder m) {
    auto p = m.initProvide();
    p.setQuestionId(q);
    p.initTarget().setImportedCap(*c.boot);
    p.setRecipient(bytes_of(net_.at(a).identity->id().bytes()));
    p.setNonce(bytes_of(no));
  });
  std::uint32_t acc =
      ask(c, Question{Ask::must_refuse, fmt::format("the hostile vat's accept of a provision for v{}", a)});
  send(c, [&](wire::Message::Builder m) {
    auto x = m.initAccept();
    x.setQuestionId(acc);
    x.setProvider(bytes_of(id().bytes()));
    x.setNonce(bytes_of(no));
    x.setEmbargo(choose_.chance(50));
  });
  forbidden_call(c, acc);
  ++counts_.provides;
  ++counts_.wrong_accepts;
  trace_.add(fmt::format("hostile: provides at v{} for v{} and accepts it itself", c.vat, a));
}

void Hostile::misdirect(Session& c) {
  // 11.5: "the recipient then gets one or the other". The provide names A;
  // the descriptor goes to D, whose accept is honoured only if D is A.
  std::size_t a = other_vat(c.vat);
  std::size_t d = choose_.chance(40) ? a : other_vat(c.vat);
  Session* sd = ready(d);
  if (!sd) return;
  auto no = nonce();
  std::uint32_t q = ask(c, Question{d == a ? Ask::provide_told : Ask::provide_untold,
                                    fmt::format("a provide for v{} whose descriptor went to v{}", a, d)});
  send(c, [&](wire::Message::Builder m) {
    auto p = m.initProvide();
    p.setQuestionId(q);
    p.initTarget().setImportedCap(*c.boot);
    p.setRecipient(bytes_of(net_.at(a).identity->id().bytes()));
    p.setNonce(bytes_of(no));
  });
  // D's root keeps it (Actor::keep), under a call header of the program's.
  auto msg = static_cast<std::int64_t>(hooks_.new_msg()), slot = static_cast<std::int64_t>(hooks_.new_slot());
  std::uint32_t call = ask(*sd, Question{Ask::other, "keep of a descriptor"});
  const SimVat& host = net_.at(c.vat);
  auto instance = c.ch->peer_instance().bytes;
  send(*sd, [&](wire::Message::Builder m) {
    auto k = m.initCall();
    k.setQuestionId(call);
    k.initTarget().setImportedCap(*sd->boot);
    k.setMethod("keep");
    auto args = k.initArgs(4);
    args[0].setInt(msg);
    args[1].setInt(slot);
    args[2].setInt(1);
    auto t = args[3].initCap().initThirdPartyHosted();
    t.setHost(bytes_of(host.identity->id().bytes()));
    t.setHostInstance(bytes_of(instance));
    auto hints = t.initHints(1);
    hints.set(0, Net::address_of(c.vat).to_string());
    t.setNonce(bytes_of(no));
    t.setVine(0);  // our root: every call through it is refused
  });
  if (d != a) hooks_.misdirected(static_cast<std::uint64_t>(msg), c.vat);
  ++counts_.provides;
  ++counts_.descriptors;
  trace_.add(fmt::format("hostile: provides at v{} for v{}, gives the descriptor to v{} (call {})", c.vat, a, d, msg));
  if (!choose_.chance(40)) return;
  // And spends it itself, at once: refused whoever took it (H10 3).
  std::uint32_t acc =
      ask(c, Question{Ask::must_refuse, fmt::format("the hostile vat's accept of its provision for v{}", a)});
  send(c, [&](wire::Message::Builder m) {
    auto x = m.initAccept();
    x.setQuestionId(acc);
    x.setProvider(bytes_of(id().bytes()));
    x.setNonce(bytes_of(no));
    x.setEmbargo(false);
  });
  forbidden_call(c, acc);
  ++counts_.wrong_accepts;
}

void Hostile::accept_ticket(std::optional<std::size_t> which) {
  // As the recipient an honest introducer named: a legitimate accept (H7),
  // without ever releasing the vine (we never send a release).
  std::vector<std::size_t> fresh;
  for (std::size_t i = 0; i < tickets_.size(); ++i)
    if (!tickets_[i].accepted) fresh.push_back(i);
  if (fresh.empty()) return;
  std::size_t i = which ? *which : choose_.pick(fresh);
  Ticket& t = tickets_[i];
  if (t.accepted) return;
  for (std::size_t v = 0; v < net_.size(); ++v) {
    const auto& hid = net_.at(v).identity->id().bytes();
    if (!std::equal(hid.begin(), hid.end(), t.host.begin(), t.host.end())) continue;
    Session* c = ready(v);
    if (!c) return;
    if (choose_.chance(40)) wrong_provider(*c, i);
    t.accepted = true;
    std::uint32_t acc = ask(*c, Question{Ask::accept_first, fmt::format("our accept of ticket {}", i), i});
    send(*c, [&](wire::Message::Builder m) {
      auto x = m.initAccept();
      x.setQuestionId(acc);
      x.setProvider(bytes_of(t.provider));
      x.setNonce(bytes_of(t.nonce));
      x.setEmbargo(false);
    });
    trace_.add(fmt::format("hostile: accepts ticket {} at v{}", i, v));
    return;
  }
}

void Hostile::wrong_provider(Session& c, std::size_t i) {
  // 11.5: an accept names the introducer the recipient heard from; naming
  // another (here: another honest vat, or ourselves) spends nothing of the
  // real one's. The host finds no provision (it may wait for one, H10 2)
  // and refuses; the real accept that follows may still be honoured.
  const Ticket& t = tickets_.at(i);
  std::vector<std::vector<std::uint8_t>> others{{id().bytes().begin(), id().bytes().end()}};
  for (std::size_t v = 0; v < net_.size(); ++v) {
    const auto& b = net_.at(v).identity->id().bytes();
    std::vector<std::uint8_t> other(b.begin(), b.end());
    if (v != c.vat && other != t.provider) others.push_back(std::move(other));
  }
  const std::vector<std::uint8_t>& provider = choose_.pick(others);
  std::uint32_t acc = ask(c, Question{Ask::must_refuse, fmt::format("ticket {}'s nonce under another provider", i)});
  send(c, [&](wire::Message::Builder m) {
    auto x = m.initAccept();
    x.setQuestionId(acc);
    x.setProvider(bytes_of(provider));
    x.setNonce(bytes_of(t.nonce));
    x.setEmbargo(false);
  });
  forbidden_call(c, acc);
  ++counts_.wrong_accepts;
  trace_.add(fmt::format("hostile: accepts ticket {} at v{} naming another provider", i, c.vat));
}

void Hostile::replay_ticket() {
  // H10 4: a nonce is honoured once; a replay, on the same session or on a
  // new one, is refused.
  std::vector<std::size_t> spent;
  for (std::size_t i = 0; i < tickets_.size(); ++i)
    if (tickets_[i].honoured) spent.push_back(i);
  if (spent.empty()) return;
  std::size_t i = choose_.pick(spent);
  const Ticket& t = tickets_[i];
  tickets_[i].replayed = true;
  for (std::size_t v = 0; v < net_.size(); ++v) {
    const auto& hid = net_.at(v).identity->id().bytes();
    if (!std::equal(hid.begin(), hid.end(), t.host.begin(), t.host.end())) continue;
    Session* c = ready(v);
    if (!c) return;
    send_replay(*c, i);
    if (!choose_.chance(50)) return;
    // On a new session too, once its handshake is done.
    auto fresh = open_session(v);
    sessions_.push_back(fresh);
    pending_replays_.push_back(PendingReplay{fresh, i});
    return;
  }
}

void Hostile::send_replay(Session& c, std::size_t i) {
  const Ticket& t = tickets_.at(i);
  std::uint32_t acc = ask(c, Question{Ask::must_refuse, fmt::format("a replay of ticket {}", i)});
  send(c, [&](wire::Message::Builder m) {
    auto x = m.initAccept();
    x.setQuestionId(acc);
    x.setProvider(bytes_of(t.provider));
    x.setNonce(bytes_of(t.nonce));
    x.setEmbargo(false);
  });
  forbidden_call(c, acc);
  ++counts_.replays;
  // Which of our sessions there, by the order we opened them (not by address:
  // the trace must be the same on every run).
  std::size_t nth = 0;
  for (const auto& o : sessions_) {
    if (o->vat == c.vat) ++nth;
    if (o.get() == &c) break;
  }
  trace_.add(fmt::format("hostile: replays ticket {} at v{} (our session {} there)", i, c.vat, nth));
}

void Hostile::flush_replays() {
  std::erase_if(pending_replays_, [this](const PendingReplay& p) {
    auto s = p.session.lock();
    if (!s || s->ended) return true;
    if (!s->open) return false;
    send_replay(*s, p.ticket);
    return true;
  });
}

void Hostile::forbidden_call(Session& s, std::uint32_t qid) {
  auto msg = hooks_.new_msg();
  hooks_.forbid(msg);
  std::uint32_t q = ask(s, Question{Ask::forbidden_call, fmt::format("call {} pipelined on a refused accept", msg)});
  send(s, [&](wire::Message::Builder m) {
    auto c = m.initCall();
    c.setQuestionId(q);
    c.initTarget().initPromisedAnswer().setQuestionId(qid);
    c.setMethod("ping");
    auto args = c.initArgs(3);
    args[0].setInt(static_cast<std::int64_t>(msg));
    args[1].setInt(static_cast<std::int64_t>(hooks_.new_slot()));
    args[2].setInt(1);
  });
}

void Hostile::leave() {
  leaving_ = true;
  trace_.add("hostile: leaves");
  for (auto& s : sessions_)
    if (s->ch && s->open) s->ch->close("sim: the hostile vat leaves");
}

}  // namespace vatic::sim::internal
