// Three-party handoff on one session (spec/captp.md 11): the operations a
// session that negotiated `handoff` receives. The host's state (provisions,
// waiting accepts) is the node's ProvisionTable (provisions.h); this file
// checks each message as the steps say (a malformed one aborts the session,
// section 8) and hands it over.
//
// What this version does in each role:
// - host (C): provide (H8), accept (H10), disembargo provide (H9/H10), ends
//   (H13/H14), all of it;
// - recipient (A): it checks a thirdPartyHosted descriptor (H5), imports the
//   vine and makes the handoff promise (handoff_recipient.cpp: H6, H7, H11,
//   H12);
// - introducer (B): it describes an import of another session as
//   thirdPartyHosted when H2 allows (try_handoff: provide, descriptor,
//   record), relays the recipient's disembargo accept (H9) and cancels the
//   provide when the vine goes (H13).
#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <iterator>

#include "captp/address.h"
#include "captp/internal/net/channel.h"
#include "captp/internal/remote.h"
#include "vat/vat.h"

namespace vatic::captp {

using detail::HandlerPtr;
using detail::Ptr;

namespace {

VatId read_vat_id(capnp::Data::Reader bytes, const char* what) {
  auto id = VatId::parse_bytes(std::span<const std::uint8_t>(bytes.begin(), bytes.size()));
  if (!id) throw ProtocolError(fmt::format("{} is not a valid vat id", what));
  return *id;
}

HandoffNonce read_nonce(capnp::Data::Reader bytes) {
  if (bytes.size() != kHandoffNonceBytes)
    throw ProtocolError(fmt::format("handoff nonce of {} bytes ({} expected)", bytes.size(), kHandoffNonceBytes));
  HandoffNonce n;
  std::copy(bytes.begin(), bytes.end(), n.begin());
  return n;
}

// spec/captp.md 11.8: at most 8 hints of at most 255 bytes, else abort; a
// hint that does not parse as an address is skipped (a newer kind).
inline constexpr std::size_t kMaxHints = 8, kMaxHintBytes = 255;
std::vector<std::string> read_hints(capnp::List<capnp::Text>::Reader hints) {
  if (hints.size() > kMaxHints) throw ProtocolError(fmt::format("{} hints (at most {})", hints.size(), kMaxHints));
  std::vector<std::string> out;
  for (auto h : hints) {
    if (h.size() > kMaxHintBytes)
      throw ProtocolError(fmt::format("a hint of {} bytes (at most {})", h.size(), kMaxHintBytes));
    std::string text(h.cStr(), h.size());
    if (Address::parse(text)) out.push_back(std::move(text));
  }
  return out;
}

}  // namespace

void Session::on_provide(wire::Provide::Reader m) {
  // H8 1: the question id is free and the target exists, as for a call.
  std::uint32_t qid = m.getQuestionId();
  if (answers_.find(qid)) throw ProtocolError(fmt::format("question id {} reused while still in use", qid));
  HandlerPtr target = resolve_target(m.getTarget());
  // H8 2.
  VatId recipient = read_vat_id(m.getRecipient(), "the provide's recipient");
  HandoffNonce nonce = read_nonce(m.getNonce());
  auto answer = detail::make_ptr<detail::PromiseState<Value>>(&vat_);
  new_answer(qid, answer, /*standing=*/false, Answer::Handoff::provide);
  // H8 3-5 and the provision itself.
  provisions_->provide(*this, qid, std::move(answer), std::move(target), recipient, nonce);
}

void Session::on_accept(wire::Accept::Reader m) {
  // H10 1.
  std::uint32_t qid = m.getQuestionId();
  if (answers_.find(qid)) throw ProtocolError(fmt::format("question id {} reused while still in use", qid));
  VatId provider = read_vat_id(m.getProvider(), "the accept's provider");
  HandoffNonce nonce = read_nonce(m.getNonce());
  auto answer = detail::make_ptr<detail::PromiseState<Value>>(&vat_);
  // spec/captp.md 11.8: an accept counts as a call toward section 7's bound.
  if (unanswered_ >= 2 * std::size_t{options_.max_answers}) {
    new_answer(qid, answer);
    answer->break_with(Error{ErrorKind::overloaded, fmt::format("more than {} calls from this vat await answers",
                                                                2 * std::size_t{options_.max_answers})});
    return;
  }
  new_answer(qid, answer, /*standing=*/false, Answer::Handoff::accept);
  // H10 2-5.
  provisions_->accept(*this, qid, std::move(answer), provider, nonce, m.getEmbargo());
}

void Session::on_announce(wire::Announce::Reader m) {
  // H1: the last one received counts.
  announced_hints_ = read_hints(m.getHints());
}

void Session::on_handoff_disembargo(wire::Disembargo::Reader m) {
  if (m.isAccept()) {
    // H9: the target is an export of ours (the vine), the nonce 32 bytes.
    if (!m.getTarget().isImportedCap()) throw ProtocolError("disembargo accept whose target is not an export");
    (void)resolve_target(m.getTarget());
    HandoffNonce nonce = read_nonce(m.getAccept());
    std::uint32_t vine = m.getTarget().getImportedCap();
    for (Introduction& in : introductions_) {
      // Ours, made for this peer (the recipient), with this vine, and not
      // over (its provide not returned, expired or finished).
      if (in.nonce != nonce || in.vine != vine || !in.result->pending() || in.relayed) continue;
      in.relayed = true;
      // Every call the peer sent through the vine before this message went
      // on to the host when it was read: the vine's target is our import of
      // the host's object, and forwarding to it is synchronous. So the
      // relay goes at once, behind them on S_BC.
      in.host->send_provide_disembargo(in.qid);
      return;
    }
    // None any more: the accept will be refused, or was honoured, without it.
    return;
  }
  // H10, on disembargo provide: an answer of ours on this session that is a
  // provide, returned or not.
  std::uint32_t qid = m.getProvide();
  const Answer* a = answers_.find(qid);
  if (!a || a->handoff != Answer::Handoff::provide)
    throw ProtocolError(fmt::format("disembargo provide names {}, which is not a provide", qid));
  provisions_->lift(*this, qid);
}

const InstanceId& Session::peer_instance() const noexcept { return channel_->peer_instance(); }

void Session::send_announce(const std::vector<std::string>& hints) {
  if (!handoff() || !open_) return;
  send([&](wire::Message::Builder out) {
    auto list = out.initAnnounce().initHints(static_cast<unsigned>(hints.size()));
    for (unsigned i = 0; i < hints.size(); ++i) list.set(i, hints[i]);
  });
}

std::optional<std::uint32_t> Session::send_provide(std::uint32_t import_id, const VatId& recipient,
                                                   const HandoffNonce& nonce, Ptr<detail::PromiseBase>& result) {
  if (!open_ || !handoff() || questions_.size() >= options_.max_questions) return std::nullopt;
  auto answer = detail::make_ptr<detail::PromiseState<Value>>(&vat_);
  // An ordinary question of ours (H3), with no pipelining handler: the
  // cancellation sweep leaves it alone; H13 says when it is finished.
  std::uint32_t qid = questions_.add(Question{.result = answer});
  try {
    send([&](wire::Message::Builder out) {
      auto p = out.initProvide();
      p.setQuestionId(qid);
      p.initTarget().setImportedCap(import_id);
      p.setRecipient(kj::arrayPtr(recipient.bytes().data(), recipient.bytes().size()));
      p.setNonce(kj::arrayPtr(nonce.data(), nonce.size()));
    });
  } catch (...) {
    questions_.take(qid);
    return std::nullopt;
  }
  if (!open_) return std::nullopt;
  provide_qids_.insert(qid);
  result = answer;
  return qid;
}

void Session::finish_provide(std::uint32_t qid) {
  if (!provide_qids_.erase(qid)) return;  // answered already, or the session ended
  Question* q = questions_.find(qid);
  if (!q || q->returned || q->canceled) return;
  q->canceled = true;
  send([&](wire::Message::Builder out) { out.initFinish().setQuestionId(qid); });
}

void Session::send_provide_disembargo(std::uint32_t qid) {
  if (!provide_qids_.contains(qid)) return;  // answered: nothing waits for it
  send([&](wire::Message::Builder out) {
    auto d = out.initDisembargo();
    d.initTarget().setImportedCap(0);
    d.setProvide(qid);
  });
}

bool Session::try_handoff(ImportHandler& i, wire::CapDescriptor::Builder out) {
  // H2 1-3 and 5 (4 holds: an import reached through settled forwarding
  // only, with no embargo of ours on the way; write_cap exports an
  // embargoed promise as itself).
  const Ptr<Session>& host = i.session_ptr();
  if (!handoff() || host.get() == this || !host->handoff() || !host->is_open()) return false;
  if (host->peer() == peer_) return false;
  if (host->provides_outstanding() >= options_.max_provisions) return false;
  // H3: a fresh nonce from libsodium's CSPRNG (the simulation's seeded
  // stream replaces it there).
  HandoffNonce nonce;
  randombytes_buf(nonce.data(), nonce.size());
  Ptr<detail::PromiseBase> result;
  auto qid = host->send_provide(i.id(), peer_, nonce, result);
  if (!qid) return false;
  // H4: the vine is the export section 4 would have sent.
  std::uint32_t vine = export_handler(HandlerPtr(&i), /*promise=*/false);
  auto t = out.initThirdPartyHosted();
  t.setHost(kj::arrayPtr(host->peer().bytes().data(), host->peer().bytes().size()));
  const InstanceId& instance = host->peer_instance();
  t.setHostInstance(kj::arrayPtr(instance.bytes.data(), instance.bytes.size()));
  // H4: C's announced hints, else the address B dialled C at.
  std::vector<std::string> dialled;
  if (host->announced_hints().empty() && !host->dialled_address().empty()) dialled.push_back(host->dialled_address());
  const std::vector<std::string>& hints = dialled.empty() ? host->announced_hints() : dialled;
  auto list = t.initHints(static_cast<unsigned>(std::min<std::size_t>(hints.size(), kMaxHints)));
  for (unsigned k = 0; k < list.size(); ++k) list.set(k, hints[k]);
  t.setNonce(kj::arrayPtr(nonce.data(), nonce.size()));
  t.setVine(vine);
  // Forget introductions that are over, so that a recipient that keeps its
  // vines costs one record per live provision.
  std::erase_if(introductions_, [](const Introduction& in) { return !in.result->pending(); });
  introductions_.push_back(Introduction{nonce, host, *qid, vine, std::move(result)});
  return true;
}

void Session::end_introductions(std::optional<std::uint32_t> vine) {
  std::vector<Introduction> gone;
  std::erase_if(introductions_, [&](Introduction& in) {
    if (vine && in.vine != *vine) return false;
    gone.push_back(std::move(in));
    return true;
  });
  for (Introduction& in : gone) in.host->finish_provide(in.qid);
}

void Session::undo_introductions(std::size_t from) {
  if (introductions_.size() <= from) return;
  std::vector<Introduction> gone(std::make_move_iterator(introductions_.begin() + static_cast<std::ptrdiff_t>(from)),
                                 std::make_move_iterator(introductions_.end()));
  introductions_.resize(from);
  for (Introduction& in : gone) in.host->finish_provide(in.qid);
}

Capability Session::read_third_party(wire::ThirdPartyHosted::Reader in) {
  // H5: every check, else abort (an honest introducer never sends it).
  VatId host = read_vat_id(in.getHost(), "the thirdPartyHosted host");
  if (host == provisions_->self() || host == peer_)
    throw ProtocolError("thirdPartyHosted names the sender or the receiver as its host");
  if (in.getHostInstance().size() != kInstanceIdBytes)
    throw ProtocolError(fmt::format("thirdPartyHosted host instance of {} bytes ({} expected)",
                                    in.getHostInstance().size(), kInstanceIdBytes));
  HandoffNonce nonce = read_nonce(in.getNonce());
  std::vector<std::string> hints = read_hints(in.getHints());
  InstanceId instance;
  std::copy(in.getHostInstance().begin(), in.getHostInstance().end(), instance.bytes.begin());
  // The vine, imported exactly as senderHosted; R, a promise of ours, is
  // what the program gets (handoff_recipient.cpp).
  Capability vine = import_id(in.getVine(), /*promise=*/false);
  auto h = detail::make_ptr<HandoffRecipient>(host);
  h->introducer = Ptr<Session>(this);
  h->promise = detail::make_ptr<detail::PromiseState<Value>>(&vat_);
  h->vine = std::move(vine.handler);
  h->vine_id = in.getVine();
  h->host_instance = instance;
  h->nonce = nonce;
  h->hints = std::move(hints);
  handoffs_pending_.emplace(h->promise.get(), h);
  // H7, last paragraph: R holds calls from now until it settles.
  h->table = provisions_;
  provisions_->holding_started(h->promise.get(), h.get());
  fresh_handoffs_.push_back(h);
  return Capability{h->promise, nullptr, true};
}

}  // namespace vatic::captp
