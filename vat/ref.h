// Ref<T>: a reference to an object of type T, the only way to reach one. It is
// near (same vat: `call` runs the method now), far (another vat: only `send`),
// or a promise (sends queue until it resolves). A Ref cannot be made from an id,
// a pointer or a name: it comes from `vat.make`, from a message, or from a
// promise. Copies are cheap; a Ref belongs to the vat that holds it and is not
// shared between threads (to hand one to another thread outside a message, pack
// it with `portable()`).
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "vat/message.h"
#include "vat/object.h"
#include "vat/promise.h"

namespace vatic {

namespace detail {
struct RefAccess;
[[noreturn]] void wrong_vat(const Handler& h);
// Outside any turn: refuses a reference whose vat runs on another thread.
void check_outside_use(const Handler& h);
}  // namespace detail

using RefKind = detail::RefKind;

template <class T>
class Ref {
 public:
  Ref() = default;  // an empty reference; sends to it throw
  template <class U>
  requires std::is_base_of_v<T, U> Ref(const Ref<U>& o) : h_(o.h_) {}

  explicit operator bool() const noexcept { return static_cast<bool>(h_); }
  RefKind kind() const noexcept { return h_ ? h_->kind() : RefKind::broken; }
  bool is_near() const noexcept { return h_ && h_->kind() == detail::RefKind::near; }

  // Eventual send: queues the message and returns its promise at once. Messages
  // sent through one reference arrive in the order sent (E-order).
  template <auto M, class... A>
  auto send(A&&... args) const {
    static_assert(std::is_base_of_v<detail::method_class_t<M>, T>, "M is not a method of T");
    return detail::send_to<M>(checked(), std::forward<A>(args)...);
  }

  // Eventual send by method name, with arguments encoded as Values.
  template <class... A>
  Promise<Value> send(std::string method, A&&... args) const {
    std::vector<Value> values;  // not an initializer list, which would copy every Value
    values.reserve(sizeof...(A));
    (values.push_back(to_value_moved(std::forward<A>(args))), ...);
    return detail::send_by_name(checked(), std::move(method), std::move(values));
  }

  // Eventual send by method name with arguments already Values (a tool that
  // calls whatever a user names, a bridge from another encoding).
  Promise<Value> send_values(std::string method, std::vector<Value> args) const {
    return detail::send_by_name(checked(), std::move(method), std::move(args));
  }

  // Immediate call; only for a near reference in the current vat.
  template <auto M, class... A>
  decltype(auto) call(A&&... args) const {
    static_assert(std::is_base_of_v<detail::method_class_t<M>, T>, "M is not a method of T");
    Object* o = checked().near_object();
    if (!o)
      throw_error(ErrorKind::failed, "call() needs a near reference (same vat); use send() for far or promised ones");
    return (static_cast<T&>(*o).*M)(std::forward<A>(args)...);
  }

  friend bool operator==(const Ref& a, const Ref& b) noexcept {
    return a.h_ ? (b.h_ && a.h_->identity() == b.h_->identity()) : !b.h_;
  }

 private:
  template <class U>
  friend class Ref;
  friend struct detail::RefAccess;
  explicit Ref(detail::HandlerPtr h) : h_(std::move(h)) {}

  detail::Handler& checked() const {
    if (!h_) throw_error(ErrorKind::failed, "send or call on an empty reference");
    Vat* cur = detail::current_vat();
    if (!cur)
      detail::check_outside_use(*h_);
    else if (h_->home() != cur)
      detail::wrong_vat(*h_);
    return *h_;
  }

  detail::HandlerPtr h_;
};

namespace detail {

// The one door between references and handlers, for the vat's own code.
struct RefAccess {
  template <class T>
  static Ref<T> make(HandlerPtr h) {
    return Ref<T>(std::move(h));
  }
  template <class T>
  static const HandlerPtr& handler(const Ref<T>& r) {
    return r.h_;
  }
};

template <class U>
struct PipelineTarget<Ref<U>> {
  static constexpr bool pipelinable = true;
  static HandlerPtr of(const Ref<U>& r) { return RefAccess::handler(r); }
};

// Checks that a handler may stand for a Ref<T>: a near object must be a T.
template <class T>
Ref<T> ref_from_handler(HandlerPtr h) {
  if (Object* o = h ? h->near_object() : nullptr) {
    if (!dynamic_cast<T*>(o))
      throw_error(ErrorKind::failed, "reference does not point to an object of the expected type");
  }
  return RefAccess::make<T>(std::move(h));
}

}  // namespace detail

template <class T>
struct Codec<Ref<T>> {
  static Value encode(const Ref<T>& r) {
    const auto& h = detail::RefAccess::handler(r);
    if (!h) return Value();
    return Value(Capability{h, nullptr, h->kind() == detail::RefKind::promise});
  }
  static Ref<T> decode(const Value& v) {
    if (v.is_null()) return Ref<T>();
    return detail::ref_from_handler<T>(v.as_capability().handler);
  }
};

// Promises travel as promise capabilities; the receiving vat asks the home vat
// for the outcome once and settles a local promise with it. A plain value
// stands for a promise already fulfilled with it (spec/model.md, Messages and
// values), as a plain reference does.
template <class T>
struct Codec<Promise<T>> {
  using State = detail::PromiseState<detail::Slot<T>>;
  static Value encode(const Promise<T>& p) { return Value(Capability{p.state(), nullptr, true}); }
  static Promise<T> decode(const Value& v) {
    if (v.type() != Value::Type::reference) {
      auto out = detail::new_state<T>(nullptr);
      out->settle_from_value(v);
      return Promise<T>(std::move(out));
    }
    const detail::HandlerPtr& h = v.as_capability().handler;
    if (!h) throw_error(ErrorKind::failed, "expected a promise, got an empty reference");
    if (auto* same = dynamic_cast<State*>(h->as_promise())) return Promise<T>(detail::Ptr<State>(same));
    auto out = detail::new_state<T>(nullptr);
    if (detail::PromiseBase* local = h->as_promise()) {
      out->follow(detail::Ptr<detail::PromiseBase>(local));
    } else if (h->kind() != detail::RefKind::promise && !v.as_capability().promise) {
      out->settle_from_value(v);  // a plain reference stands for a settled promise
    } else {
      out->follow(detail::send_by_name(*h, std::string(detail::kWhenResolved), {}).state());
    }
    return Promise<T>(std::move(out));
  }
};

// Pipelining into a record: a reference to the field `name` of the record that
// `p` will hold, usable before `p` settles (a remote answer picks the field in
// the answering vat, so sends to it cost no extra round trip).
template <class U, class T>
Ref<U> field(const Promise<T>& p, const std::string& name) {
  return detail::RefAccess::make<U>(p.state()->pipeline_field(name));
}

template <class Self>
Ref<Self> Object::ref_to(Self* self) const {
  return detail::RefAccess::make<Self>(detail::HandlerPtr(self));
}

}  // namespace vatic
