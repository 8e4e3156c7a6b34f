// The two kinds of message: TypedMessage<M> (a typed send; the near path calls
// the member directly, no Values involved) and DynamicMessage (a call by name
// with Value arguments: what arrives from another vat or from a tool). Both can
// be delivered to any handler, which is what lets a message wait on a promise
// and follow it wherever it resolves.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "vat/internal/arg_summary.h"
#include "vat/object.h"
#include "vat/promise.h"

// GCC warns (-Wsubobject-linkage) when these templates are instantiated with
// methods of classes in an anonymous namespace, a common and harmless case.
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#endif

namespace vatic::detail {

// The name of method M in its class's table (looked up once, then cached:
// member pointers to virtual functions do not compare in constant expressions).
template <auto M>
std::string_view method_name() {
  using C = method_class_t<M>;
  static_assert(HasMethods<C>, "the method's class has no VATIC_METHODS table");
  static const std::string_view name = [] {
    std::string_view found;
    std::apply(
        [&](const auto&... e) {
          (
              [&] {
                if constexpr (std::is_same_v<decltype(e.member), decltype(M)>) {
                  if (found.empty() && e.member == M) found = e.name;
                }
              }(),
              ...);
        },
        C::vatic_method_list());
    return found;
  }();
  if (name.empty())
    throw_error(ErrorKind::unimplemented,
                fmt::format("a method of {} that is not listed in its VATIC_METHODS", C::vatic_class_name()));
  return name;
}

template <class S>
class MessageWithResult : public Message {
 public:
  explicit MessageWithResult(Ptr<PromiseState<S>> r) { result_ = std::move(r); }
  PromiseState<S>& out() { return static_cast<PromiseState<S>&>(*result_); }
};

template <auto M>
class TypedMessage final : public MessageWithResult<Slot<method_result_t<M>>> {
  using Traits = MethodTraits<decltype(M)>;
  using C = typename Traits::Class;
  using Args = typename Traits::Args;
  using Params = typename Traits::Params;

 public:
  template <class... A>
  TypedMessage(Ptr<PromiseState<Slot<method_result_t<M>>>> r, A&&... a)
      : MessageWithResult<Slot<method_result_t<M>>>(std::move(r)), args_(std::forward<A>(a)...) {}

  std::string_view method() const override { return method_name<M>(); }
  std::string_view static_method() const noexcept override {
    try {
      return method_name<M>();
    } catch (...) {
      return {};  // not in the table: the recorder files it under "(unknown)"
    }
  }

  void invoke(Object& target) override {
    auto& self = static_cast<C&>(target);
    settle_from(this->out(), [&] { return call(self, std::make_index_sequence<std::tuple_size_v<Args>>{}); });
  }

  // Called at most once (the message then leaves as a DynamicMessage or over
  // the wire), so the arguments move out: a bulk Bytes is not copied. Not an
  // initializer list, which would copy every Value.
  std::vector<Value> take_args() override {
    std::vector<Value> out;
    out.reserve(std::tuple_size_v<Args>);
    std::apply([&](auto&... a) { (out.push_back(to_value_moved(std::move(a))), ...); }, args_);
    return out;
  }

  void capture_args(ArgCapture& c) const noexcept override { capture_tuple(args_, c); }
  const std::type_info* target_class() const noexcept override { return &typeid(C); }

 private:
  template <std::size_t... I>
  decltype(auto) call(C& self, std::index_sequence<I...>) {
    return (self.*M)(static_cast<std::tuple_element_t<I, Params>&&>(std::get<I>(args_))...);
  }

  Args args_;
};

// The method a vat sends to a promise it imported, to learn its outcome.
inline constexpr std::string_view kWhenResolved = "__whenResolved";
// The Miranda method every object answers by breaking when it goes away (see
// vat/monitor.h).
inline constexpr std::string_view kWhenBroken = "__whenBroken";

class DynamicMessage final : public MessageWithResult<Value> {
 public:
  DynamicMessage(Ptr<PromiseState<Value>> r, std::string method, std::vector<Value> args)
      : MessageWithResult<Value>(std::move(r)), method_(std::move(method)), args_(std::move(args)) {}

  std::string_view method() const override { return method_; }
  bool asks_when_resolved() const noexcept override { return method_ == kWhenResolved; }
  void invoke(Object& target) override;
  std::vector<Value> take_args() override { return std::move(args_); }
  std::vector<Value>& args() noexcept { return args_; }
  void capture_args(ArgCapture& c) const noexcept override;

  // Names the sender (a vat, a CapTP peer); the text is kept in the message,
  // so it lives exactly as long as the message does.
  void set_sender(std::string_view who) noexcept {
    std::size_t n = std::min(who.size(), sizeof sender_text_ - 1);
    std::memcpy(sender_text_, who.data(), n);
    sender_text_[n] = '\0';
    sender_ = sender_text_;
  }

 private:
  std::string method_;
  std::vector<Value> args_;
  char sender_text_[24];
};

template <auto M>
void invoke_by_name(Object& target, std::vector<Value>& args, PromiseState<Value>& out) {
  using Traits = MethodTraits<decltype(M)>;
  using Args = typename Traits::Args;
  using Params = typename Traits::Params;
  constexpr std::size_t n = std::tuple_size_v<Args>;
  auto& self = static_cast<typename Traits::Class&>(target);
  settle_from(out, [&]() -> decltype(auto) {
    if (args.size() != n)
      throw_error(ErrorKind::failed,
                  fmt::format("method {} takes {} argument(s), got {}", method_name<M>(), n, args.size()));
    // The arguments belong to the message, which is invoked once: decoding
    // moves bytes and text out of them instead of copying.
    return [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) {
      Args decoded{from_value_moved<std::tuple_element_t<I, Args>>(args[I])...};
      return (self.*M)(static_cast<std::tuple_element_t<I, Params>&&>(std::get<I>(decoded))...);
    }
    (std::make_index_sequence<n>{});
  });
}

// The vat a send's result promise belongs to: the sender's, or the target's
// when the send comes from outside any turn (one thread-local read).
inline Vat* result_home(Handler& target) noexcept {
  Vat* cur = current_vat();
  return cur ? cur : target.home();
}

// What a send needs of the thread, in one out-of-line call: the vat its
// result belongs to (as result_home) and the gated call whose turn sends it
// (vat/output_gate.h; null almost always).
struct SendContext {
  Vat* vat;
  PromiseBase* gated;
};
SendContext send_context() noexcept;
// A message sent in a turn of a gated call goes to the call's gate.
void hold_send(PromiseBase& call, Handler& target, MessagePtr m);

template <auto M, class... A>
Promise<method_result_t<M>> send_to(Handler& target, A&&... args) {
  using R = method_result_t<M>;
  SendContext cx = send_context();
  auto result = make_ptr<PromiseState<Slot<R>>>(cx.vat ? cx.vat : target.home());
  MessagePtr m(new TypedMessage<M>(result, std::forward<A>(args)...));
  if (cx.gated) [[unlikely]]
    hold_send(*cx.gated, target, std::move(m));
  else
    target.deliver(std::move(m));
  return Promise<R>(std::move(result));
}

Promise<Value> send_by_name(Handler& target, std::string method, std::vector<Value> args);

}  // namespace vatic::detail

#pragma GCC diagnostic pop
