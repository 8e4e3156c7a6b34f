// Flow control of the calls a peer makes (spec/captp.md, section 7).
//
// The session never stops reading and never holds a call back: a call's
// answer may depend on a return, resolve or disembargo reply from the same
// peer (a method that calls back into its caller), or on a call forwarded
// through a third vat, so any pause can stop vats for good; and a call held
// back while a later disembargo reply is handled lets calls through the
// resolved promise overtake it (E-order). Both were found by the simulation
// (tests/sim). So every call is delivered when read, and a call read while
// 2 x max_answers calls of the peer are unanswered is answered `overloaded`
// at once without being delivered: what a peer can make us keep stays
// bounded, and reading never waits on anything.
#include <fmt/format.h>

#include "captp/internal/remote.h"
#include "vat/message.h"
#include "vat/vat.h"

namespace vatic::captp {

using detail::HandlerPtr;
using detail::MessagePtr;
using detail::Ptr;

void Session::deliver_call(HandlerPtr target, MessagePtr msg, std::optional<std::uint32_t> qid) {
  if (unanswered_ >= 2 * std::size_t{options_.max_answers}) {
    // spec/captp.md 7, step 2: refused, not delivered. Its answer settles at once.
    Error e{ErrorKind::overloaded,
            fmt::format("more than {} calls from this vat await answers", 2 * std::size_t{options_.max_answers})};
    Ptr<detail::PromiseBase> result(&msg->result());
    if (qid) new_answer(*qid, result);
    detail::break_message(std::move(msg), e);
    return;
  }
  // spec/captp.md 7, step 1: delivered when read.
  if (qid) new_answer(*qid, Ptr<detail::PromiseBase>(&msg->result()));
  target->deliver(std::move(msg));
}

void Session::answer_done(const Answer& a) {
  if (a.handoff == Answer::Handoff::provide) return;  // bounded by max_provisions instead (spec/captp.md 11.8)
  --(a.standing ? standing_ : unanswered_);
}

}  // namespace vatic::captp
