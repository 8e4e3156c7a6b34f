// Compile-time facts about a method named by a member pointer: its class, its
// parameters, and the type its result promise carries (a method returning
// Promise<X> or Task<X> resolves to X; void resolves to Unit).
#pragma once

#include <tuple>
#include <type_traits>

namespace vatic {
template <class T>
class Promise;
template <class T>
class Task;
template <class T>
class Ref;
struct Unit;
}  // namespace vatic

namespace vatic::detail {

// The stored form of a promised T.
template <class T>
using Slot = std::conditional_t<std::is_void_v<T>, Unit, T>;

template <class R>
struct Unwrap {
  using type = R;
  static constexpr bool eventual = false;
};
template <class X>
struct Unwrap<Promise<X>> {
  using type = X;
  static constexpr bool eventual = true;
};
template <class X>
struct Unwrap<Task<X>> {
  using type = X;
  static constexpr bool eventual = true;
};

template <class F>
struct MethodTraits;

template <class C, class R, class... A>
struct MethodTraits<R (C::*)(A...)> {
  using Class = C;
  using Return = R;
  using Params = std::tuple<A...>;
  using Args = std::tuple<std::decay_t<A>...>;
  using Result = typename Unwrap<R>::type;
  static constexpr bool is_const = false;
};
template <class C, class R, class... A>
struct MethodTraits<R (C::*)(A...) const> : MethodTraits<R (C::*)(A...)> {
  static constexpr bool is_const = true;
};
template <class C, class R, class... A>
struct MethodTraits<R (C::*)(A...) noexcept> : MethodTraits<R (C::*)(A...)> {};
template <class C, class R, class... A>
struct MethodTraits<R (C::*)(A...) const noexcept> : MethodTraits<R (C::*)(A...) const> {};

template <auto M>
using method_result_t = typename MethodTraits<decltype(M)>::Result;
template <auto M>
using method_class_t = typename MethodTraits<decltype(M)>::Class;

template <class T>
struct IsRef : std::false_type {};
template <class T>
struct IsRef<Ref<T>> : std::true_type {};

class Handler;

// Sends method M with `args` to `target` (any kind of reference). Defined in
// message.h; declared here so Promise<Ref<T>> can pipeline.
template <auto M, class... A>
Promise<method_result_t<M>> send_to(Handler& target, A&&... args);

}  // namespace vatic::detail
