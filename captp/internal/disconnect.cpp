// The end of a session. Whatever the cause (close, abort, a protocol
// violation, the socket closing, the idle deadline), everything the session
// held breaks with one `disconnected` error naming the peer and the cause:
// questions and their pipelined handlers, imports (their kind becomes broken,
// sends through them fail), embargoed messages, and the answers we were
// computing (their results are dropped; the methods still finish locally).
#include "captp/internal/remote.h"

namespace vatic::captp {

void Session::break_everything(const Error& e) {
  // spec/captp.md 8 and 11, H14: the provisions the peer made and its
  // waiting accepts end first, while the answers they settle still exist
  // (their returns are not sent: the session is closed).
  if (handoff()) provisions_->session_ended(*this);
  // As the introducer: the vines are gone with our exports, so the provides
  // made for them are canceled (H13); as S_BC, our provides end with us.
  provide_qids_.clear();
  end_introductions(std::nullopt);
  // As the recipient: a handoff whose accept has not left falls back to its
  // vine, broken now (H7: without B's relay C would never honour it). One
  // whose accept is out waits for C's answer (H12).
  fresh_handoffs_.clear();
  std::vector<detail::Ptr<HandoffRecipient>> unsent;
  for (auto& [r, h] : handoffs_pending_)
    if (!h->accept_sent) unsent.push_back(h);
  for (auto& h : unsent) fall_back(h, "the introducer's session ended before the switch");
  // Each table is emptied before anything it held is destroyed or settled:
  // destructors and listeners re-enter the session (import_dropped, ...),
  // which must find consistent, empty tables.
  std::vector<Question> questions;
  questions_.drain([&](std::uint32_t, Question&& q) { questions.push_back(std::move(q)); });
  std::vector<RemotePromise*> embargoed;
  std::vector<Embargo> chained;
  chains_.clear();
  embargoes_.drain([&](std::uint32_t, Embargo&& e) {
    if (e.promise) embargoed.push_back(e.promise);
    if (e.chain) chained.push_back(std::move(e));
  });
  std::vector<Answer> answers;
  answers_.drain([&](std::uint32_t, Answer&& a) { answers.push_back(std::move(a)); });
  unanswered_ = 0;
  standing_ = 0;
  std::vector<Export> exports;
  exports_.drain([&](std::uint32_t, Export&& x) { exports.push_back(std::move(x)); });
  export_ids_.clear();
  std::vector<RemotePromise*> import_promises;
  imports_.drain([&](std::uint32_t, Import&& i) {
    if (auto* p = dynamic_cast<RemotePromise*>(i.handler)) import_promises.push_back(p);
  });
  released_promises_.clear();

  // Keep the handlers alive while they are settled.
  std::vector<detail::HandlerPtr> hold;
  // The bootstrap object may hold references into this session: dropping it
  // breaks that cycle (session -> bootstrap -> import -> session).
  hold.push_back(std::move(bootstrap_));
  for (auto& q : questions)
    for (RemotePromise* h : q.handlers) hold.emplace_back(h);
  for (RemotePromise* p : embargoed) hold.emplace_back(p);
  for (RemotePromise* p : import_promises) hold.emplace_back(p);

  for (auto& q : questions) {
    if (q.result) q.result->break_with(e);
    for (RemotePromise* h : q.handlers) h->break_with(e);
  }
  for (RemotePromise* p : import_promises) p->break_with(e);
  for (RemotePromise* p : embargoed) p->break_with(e);
  // spec/captp.md 5, "Chained loopback": the calls it waited for broke
  // with this session; nothing is left to overtake.
  for (Embargo& c : chained)
    for (auto* waiters : {&c.waiting, &c.then})
      for (ChainWaiter& w : *waiters) w.on->send_loopback(w.eid);
}

}  // namespace vatic::captp
