// Three-party handoff on one session (spec/captp.md 11): the operations a
// session that negotiated `handoff` receives. The host's state (provisions,
// waiting accepts) is the node's ProvisionTable (provisions.h); this file
// checks each message as the steps say (a malformed one aborts the session,
// section 8) and hands it over.
//
// What this version does in each role:
// - host (C): provide (H8), accept (H10), disembargo provide (H9/H10), ends
//   (H13/H14), all of it;
// - recipient (A): it checks a thirdPartyHosted descriptor (H5) and falls
//   back to the vine at once (H6: "A MAY fall back at once instead of
//   dialling"), so the reference it gets is the introducer's proxy, as
//   without handoff, and it never sends an accept;
// - introducer (B): it never describes a reference as thirdPartyHosted (H2
//   is a MAY), so a disembargo accept finds no provision of ours and is
//   ignored after its checks (H9).
#include <fmt/format.h>

#include "captp/address.h"
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
    (void)read_nonce(m.getAccept());
    // We made no provision with it (this version never introduces): the
    // accept will be refused, or was answered, without our relay.
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

Capability Session::read_third_party(wire::ThirdPartyHosted::Reader in) {
  // H5: every check, else abort (an honest introducer never sends it).
  VatId host = read_vat_id(in.getHost(), "the thirdPartyHosted host");
  if (host == provisions_->self() || host == peer_)
    throw ProtocolError("thirdPartyHosted names the sender or the receiver as its host");
  if (in.getHostInstance().size() != kInstanceIdBytes)
    throw ProtocolError(fmt::format("thirdPartyHosted host instance of {} bytes ({} expected)",
                                    in.getHostInstance().size(), kInstanceIdBytes));
  (void)read_nonce(in.getNonce());
  (void)read_hints(in.getHints());
  // H6: this version does not dial for handoffs and falls back at once
  // (H12): the vine, an ordinary import, is the reference. The provision at
  // the host ends when the introducer sees the vine released, or expires.
  Capability vine = import_id(in.getVine(), /*promise=*/false);
  ++handoff_fallbacks_;
  last_handoff_fallback_ = "this vat does not dial for handoffs: the reference stays proxied by the introducer";
  return vine;
}

}  // namespace vatic::captp
