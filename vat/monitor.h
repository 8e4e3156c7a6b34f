// Monitors: `monitor(ref)` is a promise that settles, with the reason, when
// the reference breaks: the object is gone, its vat stopped, the CapTP session
// to it was lost (a peer process killed), a supervised child's current
// incarnation crashed or was stopped, or a promise it stands for broke. It is
// E's `whenBroken` and Erlang's monitor: one notification, no link, and it
// never keeps its target alive.
//
// It works by one Miranda message, `__whenBroken`, that every object
// understands: the answer stays pending while the target lives and breaks
// with the reason when it does not. A far or remote reference's answer breaks
// by itself when the vat or link goes, so the same message covers each case.
#pragma once

#include "vat/error.h"
#include "vat/promise.h"
#include "vat/ref.h"

namespace vatic {

namespace detail {
vatic::Promise<Error> monitor_handler(const HandlerPtr& h);
}  // namespace detail

// Settles with the Error the reference broke with. Call it inside a turn of
// the vat that holds `ref`.
template <class T>
Promise<Error> monitor(const Ref<T>& ref) {
  return detail::monitor_handler(detail::RefAccess::handler(ref));
}

}  // namespace vatic
