#include "vat/object.h"

#include <fmt/format.h>

#include "vat/vat.h"

namespace vatic {

namespace detail {
namespace {
thread_local Vat* t_constructing = nullptr;

Vat* constructing_vat() {
  if (!t_constructing)
    throw std::logic_error("vatic::Object subclasses are made with vat.make<T>(...), never directly");
  return t_constructing;
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

void object_born(Vat& v) noexcept;
void object_died(Vat& v) noexcept;
}  // namespace detail

Object::Object() : Handler(detail::constructing_vat()) { detail::object_born(*home()); }

Object::~Object() { detail::object_died(*home()); }

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
