#include "vat/cancel.h"

#include "vat/error.h"

namespace vatic {

bool cancelled() noexcept {
  const detail::PromiseBase* call = detail::current_call();
  return call && call->cancel_requested();
}

void throw_if_cancelled() {
  if (cancelled()) throw_error(ErrorKind::failed, "canceled: nobody wants the result of this call any more");
}

CancelToken cancel_token() { return CancelToken(detail::Ptr<detail::PromiseBase>(detail::current_call())); }

}  // namespace vatic
