// Task<T>: the coroutine type for methods and helpers that `co_await` promises.
// A task starts at once (eagerly), runs in the vat that called it, and its
// outcome is a Promise<T>: `co_return` fulfils it, an escaping exception breaks
// it. Every resumption after a `co_await` is a new turn of the same vat.
#pragma once

#include <coroutine>
#include <exception>

#include "vat/internal/hooks.h"
#include "vat/promise.h"

namespace vatic {

namespace detail {

template <class T>
struct TaskReturn {
  Ptr<PromiseState<T>> state;
  template <class V = T>
  void return_value(V&& v) {
    state->fulfill(T(std::forward<V>(v)));
  }
};
template <>
struct TaskReturn<Unit> {
  Ptr<PromiseState<Unit>> state;
  void return_void() { state->fulfill(Unit{}); }
};

}  // namespace detail

template <class T>
class Task {
 public:
  using State = detail::PromiseState<detail::Slot<T>>;

  struct promise_type : detail::TaskReturn<detail::Slot<T>> {
    promise_type() : incarnation(detail::claim_incarnation()) {
      this->state = detail::make_ptr<State>(detail::require_current_vat("a Task"));
    }
    // A frame destroyed while suspended (its vat went away) breaks the task's promise.
    ~promise_type() {
      if (this->state->pending()) this->state->break_with(detail::abandoned_error(this->state->home()));
    }
    Task get_return_object() { return Task(this->state); }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void unhandled_exception() {
      this->state->break_with(error_from_exception(std::current_exception()));
      // A supervised method's own coroutine failing is its child's crash.
      if (incarnation) detail::note_escape(incarnation.get(), std::current_exception());
    }
    detail::Ptr<detail::Incarnation> incarnation;
  };

  Promise<T> promise() const { return Promise<T>(s_); }
  operator Promise<T>() const { return promise(); }
  auto operator co_await() const& { return promise().operator co_await(); }
  auto operator co_await() && { return Promise<T>(std::move(s_)).operator co_await(); }
  const detail::Ptr<State>& state() const noexcept { return s_; }

 private:
  explicit Task(detail::Ptr<State> s) : s_(std::move(s)) {}
  detail::Ptr<State> s_;
};

namespace detail {

// Converts a method's or continuation's plain result into the stored type of
// the promise it settles (a Value when the call arrived by name).
template <class S, class X>
S convert_result(X&& x) {
  using XD = std::remove_cvref_t<X>;
  if constexpr (std::is_same_v<S, XD>) {
    return std::forward<X>(x);
  } else if constexpr (std::is_same_v<S, Value>) {
    return to_value_moved(std::forward<X>(x));  // a returned Bytes moves into the Value
  } else {
    return S(std::forward<X>(x));
  }
}

template <class S, class F>
void settle_from(PromiseState<S>& out, F&& f) {
  using R = std::invoke_result_t<F>;
  try {
    if constexpr (std::is_void_v<R>) {
      f();
      out.fulfill(convert_result<S>(Unit{}));
    } else if constexpr (Unwrap<R>::eventual) {
      R r = f();
      out.follow(r.state());
    } else {
      out.fulfill(convert_result<S>(f()));
    }
  } catch (...) {
    out.break_with(error_from_exception(std::current_exception()));
    if (Incarnation* inc = current_incarnation()) note_escape(inc, std::current_exception());
  }
}

}  // namespace detail
}  // namespace vatic
