// Resolution of remote promises and the embargoes that keep E-order across it
// (spec/captp.md 5, "Embargo").
//
// A remote promise that settles to a reference of the same session, as the
// peer named it (senderHosted or senderPromise), is shortened at once: calls
// sent earlier along the pipelined path and calls sent now directly both
// travel this session, in order, and the peer forwards the earlier ones to the
// same target before it reads the later ones. A promise that settles to
// anything else (an object of this vat coming home, a local promise, a
// reference into a third vat) could let a new call overtake earlier pipelined
// calls still on their way through the peer. That includes a local promise
// that forwards back to the peer (the "Tribble" race): the earlier calls go
// peer -> here -> peer, three hops, the new ones one. If any call was sent
// along the old path, new calls wait in the promise (the embargo) while a
// disembargo travels to the peer and is reflected back along the old path;
// its return means every earlier call has arrived.
#include <fmt/format.h>

#include <bit>
#include <utility>

#include "captp/internal/remote.h"
#include "vat/message.h"

namespace vatic::captp {

using detail::Handler;
using detail::HandlerPtr;
using detail::MessagePtr;
using detail::Ptr;

namespace {

// Where a local promise chain ends: messages sent to `h` reach this handler.
Handler* end_of_forwarding(Handler* h) noexcept {
  for (int steps = 0; h && steps < (1 << 20); ++steps) {
    detail::PromiseBase* p = h->as_promise();
    if (!p || !p->forward()) break;
    h = p->forward();
  }
  return h;
}

// The next hop of the path that calls sent to `h` take (spec/captp.md 5,
// Embargo, the receiver): a local promise forwards to what it settled to; a
// remote promise of any session that settled to a reference, to that
// reference, whether it still holds calls under an embargo of its own or not
// (the held ones go there too). One whose session ended while it held calls
// broke them, but its resolution still names where the path led. Null where
// the path ends: an object, an import, or a promise not (or not usefully)
// settled.
Handler* next_hop(Handler* h) noexcept {
  if (detail::PromiseBase* p = h->as_promise()) return p->forward();
  if (auto* r = dynamic_cast<RemotePromise*>(h)) return r->resolution();
  return nullptr;
}

}  // namespace

bool Session::reaches_this_peer(Handler* h) const noexcept {
  h = end_of_forwarding(h);
  if (auto* i = dynamic_cast<ImportHandler*>(h)) return i->session() == this;
  if (auto* r = dynamic_cast<RemotePromise*>(h)) return r->session() == this;
  return false;
}

RemotePromise::Path RemotePromise::path_to(Handler* h, RemotePromise** merge_into) const noexcept {
  // spec/captp.md 5, "Same path". Only handlers of this session
  // count as such, never a local promise that forwards to one: calls through
  // it would cross the session again (the peer still reflects the earlier
  // ones to us, and we to the peer), so they could be overtaken.
  for (int steps = 0; h && steps < (1 << 20); ++steps) {
    if (auto* i = dynamic_cast<ImportHandler*>(h)) return i->session() == session_.get() ? Path::same : Path::other;
    // spec/captp.md 5 and 11.3: the handoff promise of a thirdPartyHosted the
    // peer just sent sends through the vine, the peer's export on this
    // session; its own switch to the host is embargoed through the peer.
    if (session_->is_fresh_handoff(h)) return Path::same;
    if (auto* r = dynamic_cast<RemotePromise*>(h)) {
      if (r->session() != session_.get()) return Path::other;
      switch (r->state_) {
        case State::pending: *merge_into = r; return Path::merge;
        case State::embargoed: return Path::other;  // it waits for its own loopback: so do we
        case State::broken: return Path::settled;
        case State::resolved:
          if (r->data_) return Path::settled;
          h = r->resolved_.get();  // as if we had resolved to what it did
          continue;
      }
    }
    // A local promise that settled to data or broke: messages break, there
    // is nothing to keep in order. Anything else local needs the embargo.
    if (detail::PromiseBase* p = h->as_promise(); p && !p->pending() && !p->forward()) return Path::settled;
    return Path::other;
  }
  return Path::other;
}

void RemotePromise::resolve(HandlerPtr target) {
  if (state_ != State::pending) return;
  if (!target) return resolve_data();
  // A promise that would forward to itself (through others, remote or local)
  // would send every message around the cycle for ever.
  Handler* h = target.get();
  for (int steps = 0; h; ++steps, h = h->forwards_to())
    if (h == this || steps > (1 << 20))
      return break_with(Error{ErrorKind::failed, "promise resolved to itself (a cycle of promises)"});
  RemotePromise* merge_into = nullptr;
  Path path = path_to(target.get(), &merge_into);
  if (path == Path::merge && used_) {
    // spec/captp.md 5, "Same path" (merge): the calls we sent travel on
    // into that promise's target in the peer; if it later settles to
    // something off this session, it must embargo for them too, though
    // nothing was sent to it directly.
    merge_into->used_ = true;
  }
  if (used_ && path == Path::same) {
    for (Handler* f = target.get(); f && !dynamic_cast<ImportHandler*>(f); f = f->forwards_to()) {
      if (session_->is_fresh_handoff(f)) {
        session_->note_handoff_used(f);
        break;
      }
      auto* r = dynamic_cast<RemotePromise*>(f);
      if (r && r->state_ != State::resolved) break;
    }
  }
  if (!used_ || path != Path::other || !session_->is_open()) {
    state_ = State::resolved;
    resolved_ = std::move(target);
    return;
  }
  // Embargo step 1: hold new calls here until the loopback returns.
  state_ = State::embargoed;
  resolved_ = std::move(target);
  self_ = detail::Ptr<RemotePromise>(this);
  embargo_id = session_->start_embargo(this, target_);
}

void RemotePromise::lift_embargo() {
  // Embargo step 3: every call sent along the old path has arrived; the
  // held ones go on, in order, before any later one.
  if (state_ != State::embargoed) return;
  detail::Ptr<RemotePromise> keep = std::move(self_);  // let go once the held calls are out
  embargo_id.reset();
  state_ = State::resolved;
  // Deliveries may queue more messages on us only through resolved_ now.
  while (detail::Turn* t = queued_.pop()) resolved_->deliver(MessagePtr(static_cast<detail::Message*>(t)));
  // The peer's disembargoes that waited for the calls we held.
  for (auto& [s, eid] : std::exchange(loopbacks_, {})) s->reply_loopback(HandlerPtr(this), eid);
  // Our exports whose resolve waited for the held calls (embargo_before_resolve),
  // after them.
  for (auto& d : std::exchange(resolves_, {})) d.session->resolve_after_embargo(d.id, d.serial, d.answer);
}

bool Session::resolve_waits(detail::PromiseBase& p, std::uint32_t id, std::uint64_t serial, bool answer) {
  // spec/captp.md 5, "The resolve waits for the embargo": a local promise settles when its
  // answer arrives, but the messages sent to it still go on through its
  // forward, which may be a remote promise (of any session) holding calls
  // under an embargo. A resolve sent now would let the peer send straight to
  // the resolution, overtaking the calls it sent to the promise before, which
  // that embargo still holds. A handoff promise that holds calls is such an
  // embargo too (spec/captp.md 11, H7, last paragraph).
  Handler* h = p.forward();
  detail::PromiseBase* last = &p;  // the local promise in front of h
  for (int steps = 0; h && steps < (1 << 20); ++steps) {
    auto* r = dynamic_cast<RemotePromise*>(h);
    if (r && r->state() == RemotePromise::State::embargoed) {
      r->defer_resolve(Ptr<Session>(this), id, serial, answer);
      return true;
    }
    // A path into that question along which calls went (spec/captp.md 5,
    // "One path, one record"): the calls the peer pipelined on that field
    // may be held.
    if (RemotePromise* f = r ? r->embargoed_field(*last) : nullptr) {
      f->defer_resolve(Ptr<Session>(this), id, serial, answer);
      return true;
    }
    if (HandoffRecipient* held = holding_handoff(h)) {
      held->resolves.push_back(HandoffRecipient::Resolve{Ptr<Session>(this), id, serial, answer});
      return true;
    }
    if (detail::PromiseBase* q = h->as_promise()) last = q;
    h = next_hop(h);
  }
  return false;
}

HandoffRecipient* Session::holding_handoff(const Handler* h) const noexcept {
  return provisions_ ? provisions_->holding(h) : nullptr;
}

void Session::resolve_after_embargo(std::uint32_t id, std::uint64_t serial, bool answer) {
  if (answer) {
    // spec/captp.md 5, "The resolve waits for the embargo" (the return of
    // an answer): deliver_return looks again, further along the path.
    Answer* a = answers_.find(id);
    if (open_ && a && a->serial == serial && !a->returned) deliver_return(id, serial, *a->result);
    return;
  }
  Export* e = exports_.find(id);
  detail::PromiseBase* p = e && e->serial == serial ? e->target->as_promise() : nullptr;
  if (open_ && p && !p->pending()) export_settled(id, serial, *p);
}

std::uint32_t Session::start_embargo(RemotePromise* p, const Target& target) {
  // Embargo step 2: a disembargo along the old path, reflected by the peer.
  std::uint32_t eid = embargoes_.add(Embargo{.promise = p});
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    write_target(target, d.initTarget());
    d.setSenderLoopback(eid);
  });
  return eid;
}

void Session::on_disembargo(wire::Disembargo::Reader m) {
  if (m.isReceiverLoopback()) {
    std::uint32_t eid = m.getReceiverLoopback();
    auto e = embargoes_.take(eid);
    if (!e) throw ProtocolError(fmt::format("disembargo for unknown embargo {}", eid));
    if (e->promise) e->promise->lift_embargo();
    if (e->chain) chain_arrived(eid, std::move(*e));
    return;
  }
  if (m.isChainedLoopback() && handoff()) {
    // spec/captp.md 5, "Chained loopback": answered as a senderLoopback is,
    // but the path need not come back to the sender: it forwarded calls
    // along it for a disembargo of another session and waits for them.
    HandlerPtr target = resolve_target(m.getTarget());
    owe_loopback();
    return reply_loopback(std::move(target), m.getChainedLoopback());
  }
  if ((m.isAccept() || m.isProvide()) && handoff()) return on_handoff_disembargo(m);
  if (!m.isSenderLoopback()) throw ProtocolError("disembargo of an unknown kind");
  // The sender saw one of our promises resolve to a reference of its own and
  // asks us to reflect this id back after everything we forwarded to it. The
  // path may leave this session and come back: our answer forwards to a
  // question we sent a third vat, which settled to the sender's reference
  // (a call to a proxy of ours, answered with the sender's own object). What
  // counts is the first reference of this session that calls along it reach
  // (what our answer or resolve named), not the first hop.
  HandlerPtr target = resolve_target(m.getTarget());
  Handler* end = target.get();
  for (int steps = 0; end && !reaches_this_peer(end) && steps < (1 << 20); ++steps) end = next_hop(end);
  if (!end || !reaches_this_peer(end))
    throw ProtocolError("disembargo target does not resolve to a reference of the sender");
  owe_loopback();
  reply_loopback(std::move(target), m.getSenderLoopback());
}

void Session::owe_loopback() {
  // spec/captp.md 7, "Disembargoes": each reply that waits holds a little
  // state here (and, chained, on another session); a peer that keeps asking
  // while they wait is bounded as its unanswered calls are.
  std::size_t limit = 2 * std::size_t{options_.max_answers};
  if (loopbacks_owed_ >= limit)
    throw ProtocolError(fmt::format("more than {} disembargoes of this vat await their reply", limit));
  ++loopbacks_owed_;
}

void Session::reply_loopback(HandlerPtr target, std::uint32_t eid) {
  // spec/captp.md 5, Embargo, the receiver: the reply goes out once every
  // call that came along the path before the disembargo is delivered or
  // forwarded. Forwarding is synchronous, except where an embargo of our own
  // on that path holds calls: our import of the peer's promise, resolved to
  // an object of ours, or a question to a third vat that settled to the
  // peer's reference while calls we sent along it are still coming back.
  // The reply waits until it lifts (and looks again further on), else the
  // peer could send calls straight to the target that overtake the held ones.
  // So it does for a handoff promise of ours that holds calls until it
  // switches to the host or falls back to the vine (spec/captp.md 11, H7,
  // last paragraph): the peer's calls sent before the disembargo may wait
  // in it.
  Handler* h = target.get();
  Handler* last = nullptr;
  for (int steps = 0; h && steps < (1 << 20); ++steps) {
    auto* r = dynamic_cast<RemotePromise*>(h);
    if (r && r->state() == RemotePromise::State::embargoed) return r->defer_loopback(Ptr<Session>(this), eid);
    if (HandoffRecipient* held = holding_handoff(h)) {
      held->loopbacks.emplace_back(Ptr<Session>(this), eid);
      return;
    }
    last = h;
    h = next_hop(h);
  }
  // spec/captp.md 5, "Chained loopback": the path leaves over another
  // session S' (a handoff promise of ours switched to its host, say, while
  // the peer's own route to that object is its session with the host). The
  // calls went out on S', which proves only that they left: the peer, once
  // the loopback returns, sends along that other route at once (sim seed
  // 2432). A round trip on S' first proves they arrived.
  Session* via = nullptr;
  Target on_via;
  if (auto* i = dynamic_cast<ImportHandler*>(last)) {
    via = i->session_ptr().get();
    on_via = Target{.answer = false, .id = i->id(), .path = {}};
  } else if (auto* r = dynamic_cast<RemotePromise*>(last); r && r->state() == RemotePromise::State::pending) {
    via = r->session_ptr().get();
    on_via = r->target();
  }
  if (via && via != this && via->is_open() && via->handoff())
    return via->chain_loopback(on_via, Ptr<Session>(this), std::move(target), eid);
  send_loopback(eid);
}

void Session::chain_loopback(const Target& target, Ptr<Session> reply_on, HandlerPtr start, std::uint32_t eid) {
  ChainWaiter waiter{std::move(reply_on), eid, std::move(start)};
  // spec/captp.md 5, "Chained loopback", one chain per path: a chain already
  // in flight along `target` proves the arrival of every call sent here
  // before it. If nothing was sent since, it proves ours too; else we wait
  // for it and then walk again. Without this, a disembargo that entered a
  // cycle of pending promises across vats would go round it for ever, one
  // more embargo on every session each time; with it, it stops where it
  // started, and the replies come when the cycle is cut.
  if (auto it = chains_.find(target); it != chains_.end()) {
    Embargo* e = embargoes_.find(it->second.embargo);
    auto& list = it->second.sent_at == messages_out_ ? e->waiting : e->then;
    // A chain that never returns (a cycle) must not collect the waiters of
    // sessions that ended meanwhile: they are dropped as the list doubles.
    if (list.size() >= 16 && std::has_single_bit(list.size()))
      std::erase_if(list, [](const ChainWaiter& w) { return !w.on->is_open(); });
    list.push_back(std::move(waiter));
    return;
  }
  std::uint32_t id = embargoes_.add(Embargo{.promise = nullptr, .chain = target, .waiting = {}, .then = {}});
  embargoes_.find(id)->waiting.push_back(std::move(waiter));
  send([&](wire::Message::Builder m) {
    auto d = m.initDisembargo();
    write_target(target, d.initTarget());
    d.setChainedLoopback(id);
  });
  if (open_) chains_[target] = ChainInFlight{id, messages_out_};
}

void Session::chain_arrived(std::uint32_t eid, Embargo&& e) {
  // The calls we forwarded over this session before the chain have
  // arrived: the replies that waited for them go; those that came after
  // more was sent here walk their paths again (as if they arrived now).
  if (auto it = chains_.find(*e.chain); it != chains_.end() && it->second.embargo == eid) chains_.erase(it);
  for (ChainWaiter& w : e.waiting) w.on->send_loopback(w.eid);
  for (ChainWaiter& w : e.then)
    if (w.on->is_open()) w.on->reply_loopback(std::move(w.start), w.eid);
}

void Session::send_loopback(std::uint32_t eid) {
  if (loopbacks_owed_ > 0) --loopbacks_owed_;
  send([&](wire::Message::Builder out) {
    auto d = out.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setReceiverLoopback(eid);
  });
}

}  // namespace vatic::captp
