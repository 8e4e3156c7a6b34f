#include "vat/promise.h"

#include <fmt/format.h>

#include "vat/internal/message.h"
#include "vat/vat.h"

namespace vatic::detail {

void Listener::settled(PromiseBase& p) { schedule(p.home(), this); }

PromiseBase::~PromiseBase() {
  // Nobody can settle us any more; whatever still waits (inline listeners that
  // do not hold us: followers, replies to other vats) learns why.
  if (pending() && (!listeners_.empty() || !queued_.empty())) settle_broken(abandoned_error(home()));
}

void PromiseBase::deliver(MessagePtr m) {
  if (m->asks_when_resolved()) {
    m->take_result()->follow(Ptr<PromiseBase>(this));
    return;
  }
  if (forward_) return forward_->deliver(std::move(m));
  switch (status_) {
    case Status::pending: queued_.push(m.release()); return;
    case Status::broken: break_message(std::move(m), error_); return;
    case Status::fulfilled: {
      break_message(std::move(m),
                    Error{ErrorKind::failed, "message sent to a promise that resolved to data, not a reference"});
      return;
    }
  }
}

void PromiseBase::listen(Listener* l) {
  if (pending()) {
    listeners_.push(l);
  } else {
    l->settled(*this);
  }
}

void PromiseBase::fire_listeners() {
  Ptr<PromiseBase> keep(this);  // a listener may drop the last outside reference
  while (Turn* t = listeners_.pop()) static_cast<Listener*>(t)->settled(*this);
}

void PromiseBase::break_with(Error e) {
  if (!pending()) return;
  Ptr<PromiseBase> keep(this);
  settle_broken(std::move(e));
}

void PromiseBase::settle_broken(Error e) {
  status_ = Status::broken;
  error_ = std::move(e);
  if (!forward_) {
    while (Turn* t = queued_.pop()) break_message(MessagePtr(static_cast<Message*>(t)), error_);
  }
  while (Turn* t = listeners_.pop()) static_cast<Listener*>(t)->settled(*this);
}

void PromiseBase::mark_fulfilled(HandlerPtr target) {
  Ptr<PromiseBase> keep(this);
  status_ = Status::fulfilled;
  if (target && !forward_) {
    forward_to(std::move(target));
  } else if (!forward_) {
    while (Turn* t = queued_.pop())
      break_message(MessagePtr(static_cast<Message*>(t)),
                    Error{ErrorKind::failed, "message sent to a promise that resolved to data, not a reference"});
  }
  fire_listeners();
}

void PromiseBase::forward_to(HandlerPtr h) {
  if (forward_ || !h) return;
  forward_ = std::move(h);
  while (Turn* t = queued_.pop()) forward_->deliver(MessagePtr(static_cast<Message*>(t)));
}

namespace {
class FollowListener final : public Listener {
 public:
  explicit FollowListener(Ptr<PromiseBase> follower) : follower_(std::move(follower)) {}
  void settled(PromiseBase& p) override {
    follower_->copy_outcome_from_public(p);
    delete this;
  }
  void run() override {}

 private:
  Ptr<PromiseBase> follower_;
};
}  // namespace

void PromiseBase::follow(Ptr<PromiseBase> other) {
  if (!pending()) return;
  for (Handler* h = other.get(); h;) {
    if (h == this) {
      break_with(Error{ErrorKind::failed, "promise resolved to itself (a cycle of promises)"});
      return;
    }
    PromiseBase* p = h->as_promise();
    h = p ? p->forward() : nullptr;
  }
  forward_to(other);
  other->listen(new FollowListener(Ptr<PromiseBase>(this)));
}

void Message::run() {
  Object* o = target_ ? target_->near_object() : nullptr;
  if (!o) {
    result_->break_with(Error{ErrorKind::failed, "message delivered to something that is not an object"});
    return;
  }
  invoke(*o);
  // Whatever settles the result now (a value, a followed promise, a task) owns it.
  result_.reset();
}

Message::~Message() {
  if (result_ && result_->pending()) result_->break_with(abandoned_error(result_->home()));
}

void break_message(MessagePtr m, const Error& e) {
  if (auto r = m->take_result()) r->break_with(e);
}

void DynamicMessage::invoke(Object& target) {
  const MethodTable& table = target.vatic_methods();
  const MethodEntry* entry = table.find(method_);
  if (!entry) {
    out().break_with(Error{ErrorKind::unimplemented, fmt::format("{} has no method {:?}", table.class_name, method_)});
    return;
  }
  entry->invoke(target, args_, out());
}

Promise<Value> send_by_name(Handler& target, std::string method, std::vector<Value> args) {
  auto result = make_ptr<PromiseState<Value>>(current_vat() ? current_vat() : target.home());
  target.deliver(MessagePtr(new DynamicMessage(result, std::move(method), std::move(args))));
  return Promise<Value>(std::move(result));
}

}  // namespace vatic::detail
