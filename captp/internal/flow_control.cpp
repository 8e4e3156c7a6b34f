// Flow control of the calls a peer makes (spec/captp.md, section 7).
//
// The session never stops reading: a call's answer may depend on a return,
// resolve or disembargo reply from the same peer (a method that calls back
// into its caller), so a pause of the whole channel can stop both vats for
// good. Instead, once max_answers calls from the peer are unanswered, further
// calls are read and entered in the tables (their references counted, their
// answers known, so that later messages naming them are understood) but held
// back from their targets, in the order read. Every other message is handled
// as it arrives. A held call is delivered as soon as an earlier one is
// answered or finished; a call read while max_answers calls are held as well
// is answered `overloaded` at once without being delivered. What a peer can
// make us keep is bounded (2 x max_answers calls), and reading never waits
// on anything.
#include <fmt/format.h>

#include "captp/internal/remote.h"
#include "vat/message.h"
#include "vat/vat.h"

namespace vatic::captp {

using detail::HandlerPtr;
using detail::MessagePtr;
using detail::Ptr;

void Session::deliver_call(HandlerPtr target, MessagePtr msg, std::optional<std::uint32_t> qid) {
  // spec/captp.md 7: calls are held, in order, behind any call already held.
  if (unanswered_ < options_.max_answers && !holding()) {
    if (qid) new_answer(*qid, Ptr<detail::PromiseBase>(&msg->result()));
    return target->deliver(std::move(msg));
  }
  if (held_.size() >= options_.max_answers) {
    // spec/captp.md 7: refused, not delivered. Its answer settles at once.
    Error e{ErrorKind::overloaded,
            fmt::format("more than {} calls from this vat await answers", 2 * std::size_t{options_.max_answers})};
    Ptr<detail::PromiseBase> result(&msg->result());
    if (qid) new_answer(*qid, result);
    detail::break_message(std::move(msg), e);
    return;
  }
  Held h{std::move(target), std::move(msg), qid, 0, 0};
  if (qid) {
    new_answer(*qid, Ptr<detail::PromiseBase>(&h.msg->result()), false, /*held=*/true);
    h.serial = answer_serial_;
  }
  held_.push_back(std::move(h));
}

void Session::hold_loopback(HandlerPtr target, std::uint32_t eid) {
  held_.push_back(Held{std::move(target), nullptr, std::nullopt, 0, eid});
}

void Session::answer_done(bool held, bool standing) {
  if (held) return;  // never counted
  --(standing ? standing_ : unanswered_);
  if (holding()) deliver_held();
}

void Session::deliver_held() {
  // A delivery may answer a call at once (a broken target) and bring us back
  // here: the outer loop goes on with the next one.
  if (delivering_held_) return;
  delivering_held_ = true;
  Ptr<Session> keep(this);
  while (open_ && !held_.empty() && (unanswered_ < options_.max_answers || !held_.front().msg)) {
    Held h = std::move(held_.front());
    held_.pop_front();
    if (!h.msg) {
      reply_loopback(std::move(h.target), h.loopback);
      continue;
    }
    if (h.qid) {
      Answer* a = answers_.find(*h.qid);
      if (!a || a->serial != h.serial || a->returned) {
        // Finished (canceled) by the peer while held: nobody wants the work.
        detail::break_message(std::move(h.msg), Error{ErrorKind::failed, "canceled"});
        continue;
      }
      a->held = false;
      ++unanswered_;
    }
    h.target->deliver(std::move(h.msg));
  }
  delivering_held_ = false;
}

}  // namespace vatic::captp
