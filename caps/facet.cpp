#include "caps/facet.h"

#include <algorithm>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "caps/internal/gate.h"
#include "vat/message.h"

namespace vatic::caps::internal {

using detail::HandlerPtr;
using detail::MessagePtr;
using detail::RefKind;

namespace {

using Allowed = std::shared_ptr<const std::vector<std::string>>;

class Facet final : public detail::Handler {
 public:
  Facet(Vat* home, HandlerPtr target, Allowed allowed)
      : Handler(home), target_(std::move(target)), allowed_(std::move(allowed)) {}

  void deliver(MessagePtr m) override;
  RefKind kind() const noexcept override {
    RefKind k = target_->kind();
    return k == RefKind::near ? RefKind::far : k;  // no synchronous calls past the list
  }
  detail::Handler* forwards_to() const noexcept override { return target_.get(); }

 private:
  void answer_when_resolved(MessagePtr m);

  HandlerPtr target_;
  Allowed allowed_;
};

// The resolution of a faceted promise, behind the same list.
class Refacet final : public Outcome {
 public:
  Refacet(detail::Ptr<detail::PromiseBase> out, Allowed allowed)
      : Outcome(std::move(out), nullptr), allowed_(std::move(allowed)) {}

 private:
  void carry(Value& v) override {
    if (v.type() != Value::Type::reference) return;
    Capability& c = v.as_capability();
    if (!c.handler) return;
    Vat* home = c.handler->home();
    c.handler = detail::make_ptr<Facet>(home, std::move(c.handler), allowed_);
  }
  Allowed allowed_;
};

void Facet::deliver(MessagePtr m) {
  std::string_view method;
  try {
    method = m->method();
  } catch (...) {
    Error e = error_from_exception(std::current_exception());
    return detail::break_message(
        std::move(m),
        Error{ErrorKind::failed,
              fmt::format("refused: a method without a name is not allowed by this capability ({})", e.reason)});
  }
  if (m->asks_when_resolved()) return answer_when_resolved(std::move(m));
  if (std::find(allowed_->begin(), allowed_->end(), method) == allowed_->end())
    return detail::break_message(
        std::move(m),
        Error{ErrorKind::failed, fmt::format("refused: method {} is not allowed by this capability", method)});
  target_->deliver(std::move(m));
}

void Facet::answer_when_resolved(MessagePtr m) {
  detail::Ptr<detail::PromiseBase> out = m->take_result();
  m.reset();
  auto inner = detail::send_by_name(*target_, std::string(detail::kWhenResolved), {});
  inner.state()->listen(std::make_unique<Refacet>(std::move(out), allowed_));
}

}  // namespace

HandlerPtr make_facet(HandlerPtr target, std::vector<std::string> methods) {
  if (!target) throw_error(ErrorKind::failed, "caps::facet of an empty reference");
  Vat* home = target->home();
  return detail::make_ptr<Facet>(home, std::move(target),
                                 std::make_shared<const std::vector<std::string>>(std::move(methods)));
}

}  // namespace vatic::caps::internal
