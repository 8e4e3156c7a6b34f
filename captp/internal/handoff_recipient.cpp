// The recipient's side of three-party handoff (spec/captp.md 11, H5-H7,
// H11, H12): the handoff promise R that A's program receives for a
// thirdPartyHosted descriptor from B, and its switch from B's proxy (the
// vine) to the host C.
//
// R is a promise of A's own vat. The accept leaves right after the message
// that carried the descriptor has been handled, not while it is read: only
// then does A know whether calls already went toward the object through B (a
// promise of B's that resolved to the descriptor, 11.3), which decides the
// accept's embargo. Until then nothing can go through R but into its queue.
// When A has to dial C first (H6 3), R relays every call to the vine while
// the dial runs (H5: no call waits for a connection), and the accept that
// follows is then embargoed. From the accept on, R holds new calls (H7).
// R resolves to C's object when the accept returns it (H11), or to the vine
// (H12) when A cannot reach C (no session, and no hint dialled reached it:
// H6), when C refuses, or when S_AC ends first. Every fallback is logged
// (`handoff.fallback`, spec/log.md), with its reason.
//
// Everything here runs on the vat's thread.
#include <fmt/format.h>

#include <utility>

#include "captp/internal/remote.h"
#include "vat/log.h"
#include "vat/message.h"
#include "vat/utf8.h"
#include "vat/vat.h"

namespace vatic::captp {

using detail::HandlerPtr;
using detail::PromiseBase;
using detail::Ptr;

namespace {

// Settles R when the accept's answer comes (H11, H12).
class AcceptListener final : public detail::Listener {
 public:
  explicit AcceptListener(Ptr<HandoffRecipient> h) : h_(std::move(h)) {}
  void settled(PromiseBase& p) override {
    Session& s = *h_->introducer;
    if (p.status() == PromiseBase::Status::fulfilled) {
      Value v;
      try {
        v = p.value_as_value();
      } catch (...) {
      }
      if (v.type() == Value::Type::reference) return s.complete_handoff(h_, v.as_capability());
      return s.fall_back(h_, "the host's answer to the accept is not a reference");
    }
    s.fall_back(h_, fmt::format("the host refused the accept: {}", p.error().reason));
  }

 private:
  Ptr<HandoffRecipient> h_;
};

// H5: while A dials C, R sends every call to the vine at once, marking R
// used (the accept that follows is embargoed behind them, H7). It lives
// among R's listeners; R stops relaying before the accept leaves, or when it
// settles.
class VineRelay final : public detail::Listener {
 public:
  explicit VineRelay(HandoffRecipient& h) : h_(&h) {}
  void relay(detail::MessagePtr m) override {
    h_->used = true;
    h_->vine->deliver(std::move(m));
  }
  bool wanted() const noexcept override { return false; }

 private:
  HandoffRecipient* h_;  // outlives the relay: it stops it first (stop_relay)
};

}  // namespace

HandoffRecipient::~HandoffRecipient() {
  // Dropped unsettled (its sessions ended, the node closed): nothing may
  // find it any more, nor be relayed through it.
  stop_relay();
  if (table) table->holding_ended(promise.get());
}

void HandoffRecipient::stop_relay() noexcept {
  if (promise) promise->stop_relaying();
}

void HandoffRecipient::release_held() {
  // Called once R settled: the calls it held have gone on (to C's object or
  // to the vine). Each disembargo that waited is looked at again from R (a
  // further embargo on the path may still hold calls), and each resolve is
  // sent, after them.
  if (!table) return;
  table->holding_ended(promise.get());
  table = nullptr;
  for (auto& [s, eid] : std::exchange(loopbacks, {})) s->reply_loopback(HandlerPtr(promise), eid);
  for (auto& r : std::exchange(resolves, {})) r.session->resolve_after_embargo(r.id, r.serial, r.answer);
}

bool Session::is_fresh_handoff(const detail::Handler* h) const noexcept {
  for (const auto& f : fresh_handoffs_)
    if (f->promise.get() == h) return true;
  return false;
}

void Session::note_handoff_used(const detail::Handler* h) noexcept {
  // spec/captp.md 11.3: calls went along a promise of ours that resolved to
  // R, toward the object through B: the switch is embargoed for them.
  for (const auto& f : fresh_handoffs_)
    if (f->promise.get() == h) f->used = true;
}

void Session::start_fresh_handoffs() {
  for (auto& h : std::exchange(fresh_handoffs_, {})) send_accept_for(h);
}

void Session::send_accept_for(const Ptr<HandoffRecipient>& h) {
  if (!handoffs_pending_.contains(h->promise.get())) return;
  // H6 1: a session with (host, hostInstance) that speaks handoff.
  Ptr<Session> ac = provisions_->session_with(h->host, h->host_instance);
  if (!ac && !h->dialed && provisions_->dial() && !h->hints.empty()) {
    // H6 2, 3: the node dials the hints unless it has a session with the
    // host's vat id already; either way this runs again when it knows.
    // Meanwhile R relays every call to the vine (H5), in order; the vine
    // keeps them ahead of the accept's embargo (H7, H9).
    h->dialed = true;
    if (h->vine && h->promise->pending()) {
      auto relay = std::make_unique<VineRelay>(*h);
      VineRelay* r = relay.get();
      h->promise->listen(std::move(relay));
      h->promise->relay_through(r);
    }
    Ptr<HandoffRecipient> keep = h;
    provisions_->dial()(h->host, h->hints, [keep](const Error* failed) {
      Session& s = *keep->introducer;
      if (failed) return s.fall_back(keep, fmt::format("no hint reached the host: {}", failed->reason));
      s.send_accept_for(keep);
    });
    return;
  }
  // H7: from the accept on (and at H11, H12) R holds calls again.
  h->stop_relay();
  h->accept_sent = true;
  if (!ac) {
    if (h->dialed) return fall_back(h, "the session with the host's vat id is another instance or lacks handoff");
    return fall_back(h, h->hints.empty() ? "no session with the host, and no hints to dial"
                                         : "no session with the host, and this vat does not dial for handoffs");
  }
  if (h->used) {
    // H7: B relays this behind the calls that went to the object through it.
    if (!open_) return fall_back(h, "the introducer's session ended before the switch");
    send([&](wire::Message::Builder out) {
      auto d = out.initDisembargo();
      d.initTarget().setImportedCap(h->vine_id);
      d.setAccept(kj::arrayPtr(h->nonce.data(), h->nonce.size()));
    });
  }
  Ptr<PromiseBase> answer = ac->send_accept(peer_, h->nonce, h->used);
  // Not sent: C knows nothing of it; the vine carries on (if the disembargo
  // went to B, B's relay finds the provision unanswered and is harmless).
  if (!answer) return fall_back(h, "the accept could not be sent");
  answer->listen(std::make_unique<AcceptListener>(h));
}

void Session::complete_handoff(const Ptr<HandoffRecipient>& h, const Capability& target) {
  if (handoffs_pending_.erase(h->promise.get()) == 0) return;
  h->stop_relay();
  // H11: the held calls go to C's object, in order, before any later one;
  // then the vine goes (released once nothing else holds the import).
  ++handoffs_;
  h->promise->fulfill(Value(target));
  h->vine = nullptr;
  h->release_held();
}

void Session::fall_back(const Ptr<HandoffRecipient>& h, const std::string& why) {
  if (handoffs_pending_.erase(h->promise.get()) == 0) return;
  h->stop_relay();
  // H12: every held call goes to the vine, after those sent through it.
  ++handoff_fallbacks_;
  last_handoff_fallback_ = why;
  // spec/log.md: the reason may quote C's refusal, text a peer chose.
  if (vat_.log_enabled(LogLevel::info)) {
    std::string introducer = peer_.to_text(), host = h->host.to_text(), reason = utf8::printable(why);
    vat_.log(LogEvent{LogLevel::info,
                      "captp",
                      "handoff.fallback",
                      fmt::format("handoff from {} of an object of {} falls back to the introducer's proxy: {}",
                                  introducer, host, reason),
                      {{"introducer", introducer}, {"host", host}, {"reason", reason}}});
  }
  h->promise->fulfill(Value(Capability{h->vine, nullptr, false}));
  h->release_held();
}

Ptr<PromiseBase> Session::send_accept(const VatId& provider, const HandoffNonce& nonce, bool embargo) {
  if (!open_ || !handoff() || questions_.size() >= options_.max_questions) return nullptr;
  auto answer = detail::make_ptr<detail::PromiseState<Value>>(&vat_);
  // An ordinary question with no pipelining handler: R holds the calls
  // locally (H7), and the sweep leaves it alone.
  std::uint32_t qid = questions_.add(Question{.result = answer});
  try {
    send([&](wire::Message::Builder out) {
      auto a = out.initAccept();
      a.setQuestionId(qid);
      a.setProvider(kj::arrayPtr(provider.bytes().data(), provider.bytes().size()));
      a.setNonce(kj::arrayPtr(nonce.data(), nonce.size()));
      a.setEmbargo(embargo);
    });
  } catch (...) {
    questions_.take(qid);
    return nullptr;
  }
  if (!open_) return nullptr;
  return answer;
}

}  // namespace vatic::captp
