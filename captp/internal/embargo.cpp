// Resolution of remote promises and the embargoes that keep E-order across it.
//
// A remote promise that settles to a reference of the same session is
// shortened at once: calls sent earlier along the pipelined path and calls
// sent now directly both travel this session, in order, and the peer's answer
// forwards the earlier ones to the same target before it reads the later ones.
// A promise that settles to anything else (an object of this vat coming home,
// a local promise, a reference into a third vat) could let a new call
// overtake earlier pipelined calls still on their way through the peer. If any
// such call was sent, new calls wait in the promise (the embargo) while a
// disembargo travels to the peer and is reflected back along the old path;
// its return means every earlier call has arrived.
#include <fmt/format.h>

#include "captp/internal/remote.h"
#include "vat/message.h"

namespace vatic::captp {

using detail::Handler;
using detail::HandlerPtr;
using detail::MessagePtr;

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

}  // namespace

bool Session::reaches_this_peer(Handler* h) const noexcept {
  h = end_of_forwarding(h);
  if (auto* i = dynamic_cast<ImportHandler*>(h)) return i->session() == this;
  if (auto* r = dynamic_cast<RemotePromise*>(h)) return r->session() == this;
  return false;
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
  if (!used_ || session_->reaches_this_peer(target.get()) || !session_->is_open()) {
    state_ = State::resolved;
    resolved_ = std::move(target);
    return;
  }
  state_ = State::embargoed;
  resolved_ = std::move(target);
  embargo_id = session_->start_embargo(this, target_);
}

void RemotePromise::lift_embargo() {
  if (state_ != State::embargoed) return;
  embargo_id.reset();
  state_ = State::resolved;
  // Deliveries may queue more messages on us only through resolved_ now.
  while (detail::Turn* t = queued_.pop()) resolved_->deliver(MessagePtr(static_cast<detail::Message*>(t)));
}

std::uint32_t Session::start_embargo(RemotePromise* p, const Target& target) {
  std::uint32_t eid = embargoes_.add(p);
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
    auto p = embargoes_.take(eid);
    if (!p) throw ProtocolError(fmt::format("disembargo for unknown embargo {}", eid));
    if (*p) (*p)->lift_embargo();
    return;
  }
  if (!m.isSenderLoopback()) throw ProtocolError("disembargo of an unknown kind");
  // The sender saw one of our promises resolve to a reference of its own and
  // asks us to reflect this id back after everything we forwarded to it. We
  // forward synchronously, in order, on this session: whatever we forwarded
  // is already queued ahead of the reply.
  HandlerPtr target = resolve_target(m.getTarget());
  Handler* end = end_of_forwarding(target.get());
  detail::PromiseBase* p = end ? end->as_promise() : nullptr;
  if (!reaches_this_peer(end) || (p && p->pending()))
    throw ProtocolError("disembargo target does not resolve to a reference of the sender");
  std::uint32_t eid = m.getSenderLoopback();
  // Calls of the peer held back by flow control have not been forwarded yet:
  // the reply waits behind them (spec/captp.md 7).
  if (holding()) return hold_loopback(eid);
  send_loopback(eid);
}

void Session::send_loopback(std::uint32_t eid) {
  send([&](wire::Message::Builder out) {
    auto d = out.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setReceiverLoopback(eid);
  });
}

}  // namespace vatic::captp
