// Promise<T>: an eventual T, owned by one vat. `then` and `co_await` run their
// continuation as a new turn of that vat once the promise settles; a broken
// promise carries an Error that propagates through `then` chains and through
// pipelined sends. A Promise<Ref<U>> accepts sends before it settles
// (pipelining): they queue where the answer will be and are delivered in order.
//
// Resolver<T>: the one right to settle a promise. Dropping it unsettled breaks
// the promise, so nobody waits forever on a promise nobody can keep.
#pragma once

#include <coroutine>
#include <functional>
#include <type_traits>
#include <utility>

#include "vat/codec.h"
#include "vat/internal/method_traits.h"
#include "vat/output_gate.h"
#include "vat/promise_state.h"

namespace vatic {

namespace detail {

template <class S, class F>
void settle_from(PromiseState<S>& out, F&& f);  // task.h

template <class T>
Ptr<PromiseState<Slot<T>>> new_state(Vat* home) {
  return make_ptr<PromiseState<Slot<T>>>(home ? home : require_current_vat("a promise"));
}

// Resumes a coroutine in a new turn; destroys it if the vat goes away first.
// The coroutine resumes in the call it suspended in (vat/cancel.h), so that a
// method's later turns can see the call cancelled.
class ResumeListener final : public Listener {
 public:
  bool runs_as_turn() const noexcept override { return true; }
  explicit ResumeListener(std::coroutine_handle<> h) : h_(h), call_(current_call()) {}
  ~ResumeListener() override {
    if (h_) h_.destroy();
  }
  void run() override {
    CallScope in(call_.get());
    std::exchange(h_, {}).resume();
  }

 private:
  std::coroutine_handle<> h_;
  Ptr<PromiseBase> call_;
};

template <class T, class F>
constexpr bool then_takes_rvalue() {
  if constexpr (std::is_void_v<T> || std::is_same_v<F, std::nullptr_t>) {
    return false;
  } else if constexpr (!std::is_invocable_v<F&, T&&>) {
    return false;
  } else {
    return std::is_same_v<std::invoke_result_t<F&, T&&>, std::invoke_result_t<F&, const T&>>;
  }
}

template <class T, class F, class G, class Out>
class ThenListener final : public Listener {
  // f can take the value as an rvalue (by value or const T&) with the same result.
  static constexpr bool kMovable = then_takes_rvalue<Slot<T>, F>();

 public:
  ThenListener(Ptr<PromiseState<Slot<T>>> src, F f, G g, Ptr<Out> out)
      : src_(std::move(src)), f_(std::move(f)), g_(std::move(g)), out_(std::move(out)) {}
  ~ThenListener() override {
    // Dropped unrun (the vat went away): the promise `then` returned breaks too.
    if (!ran_ && out_->pending()) out_->break_with(abandoned_error(out_->home()));
  }

  bool runs_as_turn() const noexcept override { return true; }
  void run() override {
    ran_ = true;
    if (src_->status() == PromiseBase::Status::broken) {
      if constexpr (std::is_same_v<G, std::nullptr_t>) {
        out_->break_with(src_->error());
      } else {
        settle_from(*out_, [&] { return g_(src_->error()); });
      }
      return;
    }
    // Held only by this listener (the Promise `then` was called on is gone):
    // nobody can read the value after us, so it is moved, not copied.
    const bool sole = src_->ref_count() == 1;
    if constexpr (std::is_same_v<F, std::nullptr_t>) {
      if (sole)
        out_->fulfill(std::move(src_->value()));
      else
        out_->fulfill(src_->value());
    } else if constexpr (std::is_void_v<T>) {
      settle_from(*out_, [&] { return f_(); });
    } else if constexpr (kMovable) {
      if (sole)
        settle_from(*out_, [&] { return f_(std::move(src_->value())); });
      else
        settle_from(*out_, [&] { return f_(std::as_const(src_->value())); });
    } else {
      settle_from(*out_, [&] { return f_(std::as_const(src_->value())); });
    }
  }

 private:
  Ptr<PromiseState<Slot<T>>> src_;
  F f_;
  G g_;
  Ptr<Out> out_;
  bool ran_ = false;
};

template <class T, class F>
struct ThenResult {
  using type = std::invoke_result_t<F, const T&>;
};
template <class F>
struct ThenResult<void, F> {
  using type = std::invoke_result_t<F>;
};

}  // namespace detail

template <class T>
class Promise {
 public:
  using value_type = T;
  using State = detail::PromiseState<detail::Slot<T>>;

  Promise() = default;
  explicit Promise(detail::Ptr<State> s) : s_(std::move(s)) {}

  // A settled promise in the current vat.
  template <class V = detail::Slot<T>>
  static Promise resolved(V v = {}) {
    auto s = detail::new_state<T>(nullptr);
    s->fulfill(std::move(v));
    return Promise(std::move(s));
  }
  static Promise broken(Error e) {
    auto s = detail::new_state<T>(nullptr);
    s->break_with(std::move(e));
    return Promise(std::move(s));
  }

  bool valid() const noexcept { return static_cast<bool>(s_); }
  bool pending() const noexcept { return s_->pending(); }
  bool ready() const noexcept { return s_->status() == State::Status::fulfilled; }
  bool is_broken() const noexcept { return s_->status() == State::Status::broken; }
  const Error& error() const noexcept { return s_->error(); }

  // The value of a fulfilled promise; throws its Error if broken, `failed` if pending.
  const detail::Slot<T>& value() const {
    if (is_broken()) throw VatError(s_->error());
    if (pending()) throw_error(ErrorKind::failed, "promise is still pending");
    return s_->value();
  }

  // f(const T&) (or f() for void) runs in a new turn after fulfilment; it may
  // return a value, void, a Promise or a Task. Errors pass through untouched.
  template <class F>
  auto then(F f) const {
    return then_impl(std::move(f), nullptr);
  }
  // As above, with `on_broken(const Error&)` returning the same type as f.
  template <class F, class G>
  auto then(F f, G on_broken) const {
    return then_impl(std::move(f), std::move(on_broken));
  }
  // Recovers from a broken promise: g(const Error&) returns a T (or Promise<T>).
  template <class G>
  Promise<T> catch_error(G g) const {
    auto out = detail::new_state<T>(s_->home());
    s_->listen(std::make_unique<detail::ThenListener<T, std::nullptr_t, G, State>>(s_, nullptr, std::move(g), out));
    return Promise<T>(std::move(out));
  }

  // `co_await` on a temporary (`co_await io.read(...)`) hands the state to the
  // awaiter, which then moves the value out when it is the state's only holder:
  // a bulk Bytes is not copied. A promise someone else still holds (a named
  // Promise, a Task, a resolver) is copied from, as before.
  auto operator co_await() const& { return Awaiter{s_}; }
  auto operator co_await() && { return Awaiter{std::move(s_)}; }

  // Pipelining: sends to the reference this promise will resolve to.
  template <auto M, class... A>
  requires detail::IsRef<T>::value auto send(A&&... args) const {
    return detail::send_to<M>(*s_, std::forward<A>(args)...);
  }

  const detail::Ptr<State>& state() const noexcept { return s_; }

 private:
  template <class F, class G>
  auto then_impl(F f, G g) const {
    using R = typename detail::ThenResult<T, F>::type;
    using U = typename detail::Unwrap<R>::type;
    using Out = detail::PromiseState<detail::Slot<U>>;
    auto out = detail::new_state<U>(s_->home());
    s_->listen(std::make_unique<detail::ThenListener<T, F, G, Out>>(s_, std::move(f), std::move(g), out));
    return Promise<U>(std::move(out));
  }

  struct Awaiter {
    detail::Ptr<State> s;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { s->listen(std::make_unique<detail::ResumeListener>(h)); }
    T await_resume() {
      if (s->status() == State::Status::broken) throw VatError(s->error());
      if constexpr (!std::is_void_v<T>) {
        if (s->ref_count() == 1) return std::move(s->value());
        return s->value();
      }
    }
  };

  detail::Ptr<State> s_;
};

template <class T>
class Resolver {
 public:
  using State = detail::PromiseState<detail::Slot<T>>;

  Resolver() = default;
  explicit Resolver(detail::Ptr<State> s) : s_(std::move(s)) {}
  Resolver(Resolver&&) noexcept = default;
  Resolver& operator=(Resolver&& o) noexcept {
    abandon();
    s_ = std::move(o.s_);
    return *this;
  }
  ~Resolver() { abandon(); }

  bool pending() const noexcept { return s_ && s_->pending(); }

  // Each of these uses the resolver up: later calls do nothing, so the value a
  // promise settles with and the target its pipelined sends went to agree.
  // In a turn of a gated call (a persistent object's, vat/output_gate.h) the
  // settlement is held until the call's writes are durable.
  template <class V = detail::Slot<T>>
  void resolve(V v = {}) {
    if (auto s = std::move(s_)) {
      if (detail::PromiseBase* call = detail::gated_call()) [[unlikely]]
        return detail::hold_settle(*call, s, [s, v = std::move(v)]() mutable { s->fulfill(std::move(v)); });
      s->fulfill(std::move(v));
    }
  }
  // Settles as `p` settles (and forwards pipelined sends to it).
  void resolve(Promise<T> p) {
    if (auto s = std::move(s_)) {
      if (detail::PromiseBase* call = detail::gated_call()) [[unlikely]]
        return detail::hold_settle(*call, s, [s, p = std::move(p)] { s->follow(p.state()); });
      s->follow(p.state());
    }
  }
  void reject(Error e) {
    if (auto s = std::move(s_)) {
      if (detail::PromiseBase* call = detail::gated_call()) [[unlikely]]
        return detail::hold_settle(*call, s, [s, e = std::move(e)]() mutable { s->break_with(std::move(e)); });
      s->break_with(std::move(e));
    }
  }

 private:
  void abandon() noexcept {
    if (s_ && s_->pending()) s_->break_with(detail::abandoned_error(s_->home()));
    s_.reset();
  }
  detail::Ptr<State> s_;
};

// A new pending promise of the current vat and its resolver.
template <class T>
std::pair<Promise<T>, Resolver<T>> make_promise() {
  auto s = detail::new_state<T>(nullptr);
  return {Promise<T>(s), Resolver<T>(s)};
}

template <class T>
struct Codec<Promise<T>>;  // far.h: promises travel as promise capabilities

}  // namespace vatic

#include "vat/task.h"
