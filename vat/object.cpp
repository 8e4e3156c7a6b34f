#include "vat/object.h"

#include <utility>

#include <fmt/format.h>

#include "vat/internal/hooks.h"
#include "vat/promise_state.h"
#include "vat/vat.h"

namespace vatic {

namespace detail {
namespace {
thread_local Vat* t_constructing = nullptr;

// Consumed by the first Object constructed under the scope: the one make<T>
// builds. Objects built directly inside its constructor find no scope.
Vat* take_constructing_vat() {
  if (!t_constructing)
    throw std::logic_error("vatic::Object subclasses are made with vat.make<T>(...), never directly");
  return std::exchange(t_constructing, nullptr);
}
}  // namespace

Constructing::Constructing(Vat* v) noexcept : prev_(t_constructing) { t_constructing = v; }
Constructing::~Constructing() { t_constructing = prev_; }

void wrong_vat(const Handler& h) {
  throw_error(ErrorKind::failed,
              fmt::format("a reference of vat {} was used in vat {}; hand references to other vats only inside "
                          "messages or with portable()",
                          h.home()->name(), current_vat()->name()));
}

void check_outside_use(const Handler& h) {
  if (h.home()->runs_elsewhere())
    throw_error(ErrorKind::failed,
                fmt::format("a reference of vat {} was used outside any turn while the vat runs on its own thread; "
                            "use vat.submit() or vat.post() to run code there",
                            h.home()->name()));
}

void object_born(Vat& v) noexcept;
void object_died(Vat& v) noexcept;
}  // namespace detail

Object::Object() : Handler(detail::take_constructing_vat()) { detail::object_born(*home()); }

Object::~Object() {
  if (hooks_) {
    // Monitors learn why: the object is gone, or its whole vat is.
    Error why = detail::abandoned_error(home());
    if (why.kind != ErrorKind::disconnected)
      why = Error{ErrorKind::disconnected, "object gone: no reference to it is left"};
    detail::break_monitors(*this, why);
    delete hooks_;
  }
  detail::object_died(*home());
}

detail::ObjectHooks& Object::ensure_hooks() {
  if (!hooks_) hooks_ = new detail::ObjectHooks();
  return *hooks_;
}

void Object::deliver(detail::MessagePtr m) {
  m->target_ = detail::HandlerPtr(this);
  detail::schedule(home(), m.release());
}

const MethodEntry* MethodTable::find(std::string_view name) const noexcept {
  for (const auto& m : methods)
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace vatic
