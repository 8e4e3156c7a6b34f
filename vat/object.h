// Object: the base of everything a reference can reach. An object lives in the
// vat that made it (`vat.make<T>(...)`), is only ever run by that vat's thread,
// and is freed when the last reference to it, near or far, is dropped.
//
// VATIC_METHODS(Class, m1, m2, ...) lists the methods that may be called by
// name (from another vat, later from the wire, from tools). Put it in an
// interface class (pure virtual methods) that both sides include, and implement
// the interface on the server side.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "vat/internal/foreach.h"
#include "vat/internal/method_traits.h"
#include "vat/promise_state.h"

namespace vatic {

class Vat;
template <class T>
class Ref;

namespace detail {
struct ObjectHooks;
}

// One entry of a method table: a name and the function that decodes Value
// arguments, calls the member and settles the result.
struct MethodEntry {
  std::string_view name;
  void (*invoke)(class Object& self, std::vector<Value>& args, detail::PromiseState<Value>& out);
};

struct MethodTable {
  std::string_view class_name;
  std::span<const MethodEntry> methods;
  const MethodEntry* find(std::string_view name) const noexcept;
};

class Object : public detail::Handler {
 public:
  Object();
  ~Object() override;

  Vat& vat() const noexcept { return *home(); }

  // The method table of the most derived class that declares VATIC_METHODS.
  virtual const MethodTable& vatic_methods() const = 0;

  void deliver(detail::MessagePtr m) final;
  detail::RefKind kind() const noexcept final { return detail::RefKind::near; }
  Object* near_object() noexcept final { return this; }

  // Monitors and supervision (see internal/hooks.h); null for most objects.
  detail::ObjectHooks* hooks() const noexcept { return hooks_; }
  detail::ObjectHooks& ensure_hooks();

 protected:
  // A reference to this object, for handing out from its own methods.
  template <class Self>
  Ref<Self> ref_to(Self* self) const;

 private:
  detail::ObjectHooks* hooks_ = nullptr;
};

namespace detail {

template <class C, class M>
struct MethodSpec {
  const char* name;
  M member;
};

template <class... E>
constexpr auto method_list(int, E... e) {
  return std::tuple<E...>(e...);
}

template <class T>
concept HasMethods = requires {
  T::vatic_method_list();
};

// Invokes member M from Value arguments; defined in message.h.
template <auto M>
void invoke_by_name(Object& self, std::vector<Value>& args, PromiseState<Value>& out);

template <class C>
const MethodTable& method_table() {
  static constexpr auto list = C::vatic_method_list();
  static const auto entries = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<MethodEntry, sizeof...(I)>{
        MethodEntry{std::get<I>(list).name, &invoke_by_name<std::get<I>(list).member>}...};
  }
  (std::make_index_sequence<std::tuple_size_v<decltype(list)>>{});
  static const MethodTable table{C::vatic_class_name(), entries};
  return table;
}

}  // namespace detail
}  // namespace vatic

#define VATIC_METHOD_ENTRY_(C, m) \
  , ::vatic::detail::MethodSpec<C, decltype(&C::m)> { #m, &C::m }

#define VATIC_METHODS(C, ...)                                                                      \
 public:                                                                                           \
  static constexpr std::string_view vatic_class_name() { return #C; }                              \
  static constexpr auto vatic_method_list() {                                                      \
    return ::vatic::detail::method_list(0 VATIC_PP_FOR_EACH(VATIC_METHOD_ENTRY_, C, __VA_ARGS__)); \
  }                                                                                                \
  const ::vatic::MethodTable& vatic_methods() const override { return ::vatic::detail::method_table<C>(); }
