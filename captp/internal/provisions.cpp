#include "captp/internal/provisions.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "captp/internal/session.h"
#include "vat/vat.h"

namespace vatic::captp {

namespace {

Error refused() { return Error{ErrorKind::failed, kNoProvision}; }
Error provider_gone() { return Error{ErrorKind::disconnected, "the provider's session ended"}; }

}  // namespace

ProvisionTable::ProvisionTable(Vat& vat, VatId self, SessionOptions options)
    : vat_(vat), self_(self), options_(options) {}

ProvisionTable::~ProvisionTable() {
  // The timers' callbacks point here; the vat may outlive the table.
  for (auto& [key, p] : provisions_) p.expiry.cancel();
  for (auto& [id, w] : waiting_) w.expiry.cancel();
}

void ProvisionTable::session_opened(Session& s) {
  sessions_.emplace(&s, s.peer());
  if (!hints_.empty()) s.send_announce(hints_);
}

detail::Ptr<Session> ProvisionTable::session_with(const VatId& peer, const InstanceId& instance) const {
  for (const auto& [s, id] : sessions_) {
    if (id == peer && s->peer_instance().bytes == instance.bytes && s->is_open() && !s->is_retired())
      return detail::Ptr<Session>(s);
  }
  return nullptr;
}

void ProvisionTable::add_hint(const std::string& hint) {
  if (hints_.size() >= 8 || std::find(hints_.begin(), hints_.end(), hint) != hints_.end()) return;
  hints_.push_back(hint);
  for (auto& [s, id] : sessions_) s->send_announce(hints_);
}

std::size_t ProvisionTable::sessions_with(const VatId& peer) const {
  std::size_t n = 0;
  for (const auto& [s, id] : sessions_) n += id == peer ? 1 : 0;
  return n;
}

void ProvisionTable::session_ended(Session& s) {
  if (sessions_.erase(&s) == 0) return;
  // H14: the provisions it made end with it (their provide answers are
  // dropped with the session); an accept that took one is refused
  // `disconnected`. A provision taken by an accept of this session lost its
  // recipient: it ends as when the accept is finished.
  std::vector<std::map<Key, Provision>::iterator> mine, taken;
  for (auto it = provisions_.begin(); it != provisions_.end(); ++it) {
    if (it->second.from == &s)
      mine.push_back(it);
    else if (it->second.taker && it->second.taker->session == &s)
      taken.push_back(it);
  }
  for (auto it : mine) end(it, std::nullopt, provider_gone());
  for (auto it : taken) end(it, Error{ErrorKind::failed, "the recipient gave up"}, refused());
  // Its own waiting accepts go with its answers; accepts waiting for a
  // provide of its peer are refused once no session with that peer is left.
  bool last = sessions_with(s.peer()) == 0;
  std::vector<Answer> refuse;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    bool own = it->second.session == &s;
    bool orphan = last && it->second.key.provider == s.peer().bytes();
    if (!own && !orphan) {
      ++it;
      continue;
    }
    it->second.expiry.cancel();
    if (!own) refuse.push_back(it->second.answer);
    it = waiting_.erase(it);
  }
  for (Answer& a : refuse) a->break_with(provider_gone());
}

void ProvisionTable::provide(Session& from, std::uint32_t qid, Answer answer, detail::HandlerPtr target,
                             const VatId& recipient, const HandoffNonce& nonce) {
  // H8 3.
  if (recipient == self_ || recipient == from.peer())
    return answer->break_with(Error{ErrorKind::failed, "provision for the host or the provider itself"});
  Key key{from.peer().bytes(), nonce};
  // H8 4: the first provision stays.
  if (provisions_.contains(key)) return answer->break_with(Error{ErrorKind::failed, "nonce already provided"});
  // H8 5: a flood of provides costs at most max_provisions per session.
  if (provisions_of(from) >= options_.max_provisions) {
    auto oldest = provisions_.end();
    for (auto it = provisions_.begin(); it != provisions_.end(); ++it)
      if (it->second.from == &from && (oldest == provisions_.end() || it->second.seq < oldest->second.seq)) oldest = it;
    if (oldest != provisions_.end()) {
      end(oldest,
          Error{ErrorKind::overloaded,
                fmt::format("provision expired: more than {} outstanding", options_.max_provisions)},
          refused());
    }
  }
  std::uint64_t seq = ++seq_;
  // H14: the deadline runs on the vat's clock from the provide's arrival.
  Timer expiry = vat_.after(options_.provision_ttl, [this, key, seq] {
    auto it = provisions_.find(key);
    if (it != provisions_.end() && it->second.seq == seq)
      end(it, Error{ErrorKind::failed, "provision expired"}, refused());
  });
  provisions_.emplace(key, Provision{&from, qid, std::move(answer), std::move(target), recipient, seq,
                                     std::move(expiry), false, std::nullopt});
  // H10 2-3: accepts that waited for this provide, in arrival order; the
  // first one from the recipient takes it, the others are refused.
  std::vector<Waiting> matched;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.key != key) {
      ++it;
      continue;
    }
    it->second.expiry.cancel();
    matched.push_back(std::move(it->second));
    it = waiting_.erase(it);
  }
  for (Waiting& w : matched) {
    auto it = provisions_.find(key);
    if (it == provisions_.end() || !take(it, *w.session, w.qid, w.answer, w.embargo)) w.answer->break_with(refused());
  }
}

void ProvisionTable::accept(Session& from, std::uint32_t qid, Answer answer, const VatId& provider,
                            const HandoffNonce& nonce, bool embargo) {
  Key key{provider.bytes(), nonce};
  if (auto it = provisions_.find(key); it != provisions_.end()) {
    if (!take(it, from, qid, answer, embargo)) answer->break_with(refused());
    return;
  }
  // H10 2: wait for the provide only while a session with the provider
  // (that negotiated handoff) could still bring it.
  if (sessions_with(provider) == 0) return answer->break_with(refused());
  if (waiting_of(from) >= options_.max_waiting_accepts) {
    return answer->break_with(Error{ErrorKind::overloaded, fmt::format("more than {} accepts wait for their provide",
                                                                       options_.max_waiting_accepts)});
  }
  std::uint64_t id = ++seq_;
  Timer expiry = vat_.after(options_.accept_wait, [this, id] { expire_waiting(id); });
  waiting_.emplace(id, Waiting{&from, qid, std::move(answer), key, embargo, std::move(expiry)});
}

void ProvisionTable::expire_waiting(std::uint64_t id) {
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;
  Answer a = std::move(it->second.answer);
  waiting_.erase(it);
  a->break_with(refused());
}

bool ProvisionTable::take(std::map<Key, Provision>::iterator it, Session& from, std::uint32_t qid, Answer answer,
                          bool embargo) {
  Provision& p = it->second;
  // H10 3: receiver binding (any instance of the recipient's vat id), and
  // nobody took it before. A refusal leaves the provision as it was.
  if (p.recipient != from.peer() || p.taker) return false;
  // H10 4: taken, once.
  p.taker = Taker{&from, qid, std::move(answer)};
  if (!embargo || p.lifted) honour(it);
  return true;
}

void ProvisionTable::honour(std::map<Key, Provision>::iterator it) {
  // Out of the table first: settling runs the sessions' return listeners.
  Provision p = std::move(it->second);
  provisions_.erase(it);
  p.expiry.cancel();
  // H10 5: the target, described in the accept's session's terms by its
  // return; then null on the provide.
  bool promise = p.target->kind() == detail::RefKind::promise;
  p.taker->answer->fulfill(Value(Capability{p.target, nullptr, promise}));
  p.answer->fulfill(Value());
}

void ProvisionTable::end(std::map<Key, Provision>::iterator it, std::optional<Error> provide_error,
                         const Error& accept_error) {
  Provision p = std::move(it->second);
  provisions_.erase(it);
  p.expiry.cancel();
  if (provide_error) p.answer->break_with(*provide_error);
  if (p.taker) p.taker->answer->break_with(accept_error);
}

void ProvisionTable::lift(Session& from, std::uint32_t qid) {
  for (auto it = provisions_.begin(); it != provisions_.end(); ++it) {
    if (it->second.from != &from || it->second.qid != qid) continue;
    it->second.lifted = true;
    if (it->second.taker) honour(it);
    return;
  }
  // The provision ended meanwhile: nothing waits for the disembargo.
}

void ProvisionTable::provide_finished(Session& from, std::uint32_t qid) {
  for (auto it = provisions_.begin(); it != provisions_.end(); ++it) {
    if (it->second.from == &from && it->second.qid == qid) return end(it, std::nullopt, refused());
  }
}

void ProvisionTable::accept_finished(Session& from, std::uint32_t qid) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->second.session != &from || it->second.qid != qid) continue;
    it->second.expiry.cancel();
    waiting_.erase(it);
    return;
  }
  for (auto it = provisions_.begin(); it != provisions_.end(); ++it) {
    const auto& t = it->second.taker;
    if (t && t->session == &from && t->qid == qid)
      return end(it, Error{ErrorKind::failed, "the recipient gave up"}, refused());
  }
}

std::size_t ProvisionTable::provisions_of(const Session& s) const noexcept {
  std::size_t n = 0;
  for (const auto& [key, p] : provisions_) n += p.from == &s ? 1 : 0;
  return n;
}

std::size_t ProvisionTable::waiting_of(const Session& s) const noexcept {
  std::size_t n = 0;
  for (const auto& [id, w] : waiting_) n += w.session == &s ? 1 : 0;
  return n;
}

}  // namespace vatic::captp
