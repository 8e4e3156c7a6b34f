#include "caps/forwarder.h"

#include <string>
#include <utility>

#include <fmt/format.h>

#include "caps/internal/gate.h"
#include "vat/message.h"
#include "vat/object.h"

// Gate, Switch and Outcome (caps/internal/gate.h) are implemented here, beside
// their simplest user: caps/CMakeLists.txt compiles only top-level and fs/
// sources. TODO(soon): move them to caps/internal/gate.cpp once the glob
// includes internal/.

namespace vatic::caps::internal {

using detail::HandlerPtr;
using detail::Message;
using detail::MessagePtr;
using detail::PromiseBase;
using detail::Ptr;
using detail::RefKind;

namespace {

// The turn a gate queues for each message it is given (see Gate::deliver).
// Dropped unrun (its vat is being released), it drops the message, which
// breaks the message's result.
class PassTurn final : public detail::Turn {
 public:
  PassTurn(Ptr<Gate> gate, MessagePtr m) : gate_(std::move(gate)), m_(std::move(m)) {}
  void run() override { gate_->admit(std::move(m_)); }

 private:
  Ptr<Gate> gate_;
  MessagePtr m_;
};

// Runs as a turn of the gate's vat once the promise held messages wait for
// settled. It holds the gate, so a gate with held messages lives until then.
class Wake final : public detail::Listener {
 public:
  bool runs_as_turn() const noexcept override { return true; }
  explicit Wake(Ptr<Gate> gate) : gate_(std::move(gate)) {}
  void run() override { gate_->wake(); }

 private:
  Ptr<Gate> gate_;
};

// Forwarding chains are walked in a loop; a bound keeps a corrupt (cyclic)
// chain from hanging the vat.
constexpr int kMaxChainWalk = 1 << 20;

}  // namespace

void Switch::cut(Error why) {
  if (cut_) return;
  cut_ = std::move(why);
  // Cutting runs code (broken results settle, dropped targets are destroyed)
  // that may destroy other members of the family, which then leave the
  // registries: take one entry at a time instead of iterating.
  while (!gates_.empty()) {
    Gate* g = *gates_.begin();
    gates_.erase(gates_.begin());
    if (g->ref_count() == 0) continue;  // being destroyed right now
    Ptr<Gate> keep(g);
    keep->cut(*cut_);
  }
  while (!outcomes_.empty()) {
    Outcome* o = *outcomes_.begin();
    outcomes_.erase(outcomes_.begin());
    o->cut(*cut_);
  }
}

Gate::Gate(Vat* home, HandlerPtr target, std::shared_ptr<Switch> sw) : Handler(home), switch_(std::move(sw)) {
  if (switch_->is_cut()) return;
  target_ = std::move(target);
  switch_->gates_.insert(this);
}

Gate::~Gate() {
  switch_->gates_.erase(this);
  // Held messages are dropped with held_; each breaks its result.
}

Error Gate::cut_error() const {
  if (switch_->is_cut()) return switch_->error();
  return Error{ErrorKind::failed, "revoked"};  // not reached: a gate loses its target only when cut
}

void Gate::deliver(MessagePtr m) {
  if (!target_) return detail::break_message(std::move(m), cut_error());
  detail::schedule(home(), new PassTurn(Ptr<Gate>(this), std::move(m)));
}

RefKind Gate::kind() const noexcept {
  if (!target_) return RefKind::broken;
  RefKind k = target_->kind();
  return k == RefKind::near ? RefKind::far : k;
}

void Gate::admit(MessagePtr m) {
  if (!target_) return detail::break_message(std::move(m), cut_error());
  held_.push(m.release());
  flush();
}

void Gate::wake() {
  waiting_ = false;
  flush();
}

PromiseBase* Gate::pending_end() const noexcept {
  detail::Handler* h = target_.get();
  for (int steps = 0; h && steps < kMaxChainWalk; ++steps) {
    PromiseBase* p = h->as_promise();
    if (!p) return nullptr;
    if (!p->forward()) return p->pending() ? p : nullptr;
    h = p->forward();
  }
  return nullptr;
}

void Gate::flush() {
  // pass() may run the target's code right here (pass_on), which may cut the
  // switch: check the target before each message.
  while (target_) {
    if (!next_) {
      if (held_.empty()) return;
      next_.reset(static_cast<Message*>(held_.pop()));
    }
    PromiseBase* wait_for = pending_end();
    if (!wait_for) wait_for = pass(next_);
    if (wait_for) {
      if (!waiting_) {
        waiting_ = true;
        wait_for->listen(std::make_unique<Wake>(Ptr<Gate>(this)));
      }
      return;
    }
  }
}

void Gate::cut(const Error& why) {
  HandlerPtr dropped = std::move(target_);  // destroyed last, after the held messages broke
  if (next_) detail::break_message(std::move(next_), why);
  while (detail::Turn* t = held_.pop()) detail::break_message(MessagePtr(static_cast<Message*>(t)), why);
  on_cut();
}

Outcome::Outcome(Ptr<PromiseBase> out, std::shared_ptr<Switch> sw) : out_(std::move(out)), switch_(std::move(sw)) {
  if (switch_) switch_->outcomes_.insert(this);
}

Outcome::~Outcome() {
  if (switch_) switch_->outcomes_.erase(this);
  // Dropped unfired (the inner promise was freed with its vat): say so.
  if (out_ && out_->pending()) out_->break_with(detail::abandoned_error(out_->home()));
}

void Outcome::settled(PromiseBase& inner) {
  Ptr<PromiseBase> out = std::move(out_);
  if (switch_ && switch_->is_cut()) {
    out->break_with(switch_->error());
  } else if (inner.status() == PromiseBase::Status::broken) {
    out->break_with(inner.error());  // errors carry no references: they pass unchanged
  } else {
    try {
      Value v = inner.value_as_value();
      carry(v);
      out->settle_from_value(v);
    } catch (...) {
      out->break_with(error_from_exception(std::current_exception()));
    }
  }
}

void Outcome::cut(const Error& why) {
  // Breaking may run listeners that free the inner promise and with it this
  // outcome: work on a local copy and touch no member afterwards.
  if (Ptr<PromiseBase> out = out_) out->break_with(why);
}

void pass_on(const HandlerPtr& target, MessagePtr m) {
  if (target->near_object() && target->home() == detail::current_vat()) {
    m->target_ = target;
    m->run();
    return;
  }
  target->deliver(std::move(m));
}

namespace {

class Forwarder final : public Gate {
 public:
  Forwarder(Vat* home, HandlerPtr target, std::shared_ptr<Switch> sw) : Gate(home, std::move(target), std::move(sw)) {}

 private:
  PromiseBase* pass(MessagePtr& m) override;
};

// The resolution of a forwarded promise, as a forwarder of the same family.
class Rewrap final : public Outcome {
 public:
  using Outcome::Outcome;

 private:
  void carry(Value& v) override {
    if (v.type() != Value::Type::reference) return;
    Capability& c = v.as_capability();
    if (!c.handler) return;
    Vat* home = c.handler->home();
    c.handler = detail::make_ptr<Forwarder>(home, std::move(c.handler), control_ptr());
  }
};

PromiseBase* Forwarder::pass(MessagePtr& m) {
  if (!m->asks_when_resolved()) {
    pass_on(target(), std::move(m));
    return nullptr;
  }
  // Someone decodes this reference as a promise and asks for its outcome: the
  // answer must not be the bare resolution, or revoking would not cut it.
  Ptr<PromiseBase> out = m->take_result();
  m.reset();
  auto inner = detail::send_by_name(*target(), std::string(detail::kWhenResolved), {});
  inner.state()->listen(std::make_unique<Rewrap>(std::move(out), control_ptr()));
  return nullptr;
}

}  // namespace

std::pair<HandlerPtr, Revoker> make_revocable(HandlerPtr target) {
  if (!target) throw_error(ErrorKind::failed, "caps::revocable of an empty reference");
  auto sw = std::make_shared<Switch>();
  Vat* home = target->home();
  HandlerPtr h = detail::make_ptr<Forwarder>(home, std::move(target), sw);
  return {std::move(h), Revoker(std::move(sw))};
}

}  // namespace vatic::caps::internal

namespace vatic::caps {

void Revoker::revoke(std::string_view reason) { revoke(Error{ErrorKind::failed, fmt::format("revoked: {}", reason)}); }

void Revoker::revoke(Error why) {
  if (switch_) switch_->cut(std::move(why));
}

bool Revoker::revoked() const noexcept { return switch_ && switch_->is_cut(); }

}  // namespace vatic::caps
