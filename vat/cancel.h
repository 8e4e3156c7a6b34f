// Cancellation: how a method learns that nobody wants its result any more.
//
// An eventual send is a call; its result promise is the only interest anyone
// has in it. When the last interest is gone (over CapTP: the caller sent a
// finish for the question before its answer, having released its promise and
// every pipelined use of it; spec/captp.md "finish"), the call is marked
// cancelled. Nothing is forced: the method keeps running until it looks, and
// a method that never looks runs to completion as before. This is Cap'n
// Proto's allowCancellation made opt-in at each check rather than per method,
// since a vat cannot drop a running turn or a suspended frame from outside
// without tearing what it owns.
//
//   Task<Report> Indexer::build(Path root) {
//     for (auto& dir : co_await list(root)) {   // later turns see it too
//       if (vatic::cancelled()) co_return {};   // or: vatic::throw_if_cancelled();
//       ...
//     }
//   }
//
// "The current call" is the call whose method runs in this turn, or whose
// coroutine (a Task the method started, directly or through helper Tasks it
// awaited) resumed in this turn after a `co_await` on a vat Promise. `then`
// continuations and timer callbacks are not calls: there, `cancelled()` is
// false unless a token was taken while the call ran (cancel_token()).
//
// Local sends are not cancelled by dropping their Promise (that would put a
// test on every promise release); a local caller that wants to cancel can
// pass an object to call instead. spec/model.md, "Cancellation".
//
// Threads: the vat's thread, like the call itself.
#pragma once

#include "vat/promise_state.h"

namespace vatic {

// Whether the current call was cancelled; false outside any call.
bool cancelled() noexcept;

// Throws VatError{failed, "canceled: ..."} if the current call was cancelled:
// the method stops there and its (unwanted) result breaks.
void throw_if_cancelled();

// The current call's cancellation, kept for later: a callback or a helper
// that runs outside the call's turns can still ask. It keeps the call's result
// state (not the object) alive. An empty token (outside any call) never says
// cancelled.
class CancelToken {
 public:
  CancelToken() = default;
  bool cancelled() const noexcept { return call_ && call_->cancel_requested(); }

 private:
  friend CancelToken cancel_token();
  explicit CancelToken(detail::Ptr<detail::PromiseBase> call) : call_(std::move(call)) {}
  detail::Ptr<detail::PromiseBase> call_;
};

CancelToken cancel_token();

}  // namespace vatic
