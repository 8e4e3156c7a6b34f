#include "vat/promise.h"

#include <deque>
#include <vector>

#include <fmt/format.h>

#include "vat/internal/hooks.h"
#include "vat/internal/vat_impl.h"
#include "vat/message.h"
#include "vat/output_gate.h"
#include "vat/vat.h"

namespace vatic::detail {

namespace {

// Chains of promises (each following the next) can be long; settling,
// delivering through and destroying them runs in loops, not recursion, so no
// chain length can overflow the stack.
thread_local std::vector<HandlerPtr> t_graveyard;
thread_local bool t_burying = false;

// Drops `h` after any drop already in progress finishes.
void bury(HandlerPtr h) {
  t_graveyard.push_back(std::move(h));
  if (t_burying) return;
  t_burying = true;
  while (!t_graveyard.empty()) {
    HandlerPtr last = std::move(t_graveyard.back());
    t_graveyard.pop_back();
    last.reset();
  }
  t_burying = false;
}

struct Settlement {
  Ptr<PromiseBase> follower;
  Ptr<PromiseBase> source;  // null when the source was being destroyed
  Error error;              // the source's error in that case
};
thread_local std::deque<Settlement> t_settlements;
thread_local bool t_settling = false;

void settle_followers() {
  if (t_settling) return;
  t_settling = true;
  while (!t_settlements.empty()) {
    Settlement s = std::move(t_settlements.front());
    t_settlements.pop_front();
    if (s.source) {
      s.follower->copy_outcome_from_public(*s.source);
    } else {
      s.follower->break_with(std::move(s.error));
    }
  }
  t_settling = false;
}

// Settles the follower when the followed promise settles.
class FollowListener final : public Listener {
 public:
  explicit FollowListener(Ptr<PromiseBase> follower) : follower_(std::move(follower)) {}
  bool wanted() const noexcept override {
    return follower_ && follower_->pending() && (follower_->ref_count() > 1 || follower_->observed());
  }
  void settled(PromiseBase& p) override {
    // A promise being destroyed (count zero) must not be revived by a Ptr.
    if (p.ref_count() == 0) {
      t_settlements.push_back(Settlement{std::move(follower_), nullptr, p.error()});
    } else {
      t_settlements.push_back(Settlement{std::move(follower_), Ptr<PromiseBase>(&p), {}});
    }
    settle_followers();
  }
  void run() override {}

 private:
  Ptr<PromiseBase> follower_;
};

constexpr int kMaxChainWalk = 1 << 20;

// Holds a handler until a promise settles (or its vat is released).
class KeepAlive final : public Listener, KeepAliveLink {
 public:
  explicit KeepAlive(HandlerPtr h) {
    KeepAliveLink& head = h->home()->impl().kept;
    held = std::move(h);
    prev = &head;
    next = head.next;
    head.next->prev = this;
    head.next = this;
  }
  ~KeepAlive() override {
    prev->next = next;
    next->prev = prev;
  }
  // Dropping it (when the promise settles) releases the handler.
  void run() override {}
};

}  // namespace

PromiseBase::~PromiseBase() {
  // Nobody can settle us any more; whatever still waits (inline listeners that
  // do not hold us: followers, replies to other vats) learns why.
  if (pending() && (!listeners_.empty() || !queued_.empty())) settle_broken(abandoned_error(home()));
  if (forward_) bury(std::move(forward_));
}

Error PromiseBase::cycle_error() {
  return Error{ErrorKind::failed, "promise resolved to itself (a cycle of promises)"};
}

bool PromiseBase::leads_back(Handler* h) const noexcept {
  for (int steps = 0; h; ++steps) {
    if (h == this || steps > kMaxChainWalk) return true;
    h = h->forwards_to();
  }
  return false;
}

void PromiseBase::deliver(MessagePtr m) {
  if (m->asks_when_resolved()) {
    m->take_result()->follow(Ptr<PromiseBase>(this));
    return;
  }
  if (forward_) {
    // Deliver to the end of the forwarding chain in one step.
    Handler* h = forward_.get();
    for (PromiseBase* p = h->as_promise(); p && p->forward_; p = h->as_promise()) h = p->forward_.get();
    return h->deliver(std::move(m));
  }
  switch (status_) {
    case Status::pending:
      // While relay_through drains the queue, a message that arrives (from
      // inside a relay) goes behind the ones still queued.
      if (relay_ && queued_.empty()) return relay_->relay(std::move(m));
      queued_.push(m.release());
      return;
    case Status::broken: break_message(std::move(m), error_); return;
    case Status::fulfilled: {
      break_message(std::move(m),
                    Error{ErrorKind::failed, "message sent to a promise that resolved to data, not a reference"});
      return;
    }
  }
}

void PromiseBase::listen(std::unique_ptr<Listener> l) {
  if (pending()) {
    listeners_.push(l.release());  // the intrusive list owns it until it fires
  } else {
    notify(l.release());
  }
}

void PromiseBase::notify(Listener* l) {
  if (l->runs_as_turn()) return schedule(home(), l);  // the turn queue owns it now
  std::unique_ptr<Listener> owned(l);
  owned->settled(*this);
}

void PromiseBase::relay_through(Listener* l) {
  if (!pending() || forward_) return;
  relay_ = l;
  Ptr<PromiseBase> keep(this);
  while (relay_ && !queued_.empty()) relay_->relay(MessagePtr(static_cast<Message*>(queued_.pop())));
}

void PromiseBase::tell_gate() {
  OutputGate* g = gate_;
  gate_ = nullptr;
  g->settled(*this);
}

void PromiseBase::fire_listeners() {
  relay_ = nullptr;             // it is about to fire and go
  Ptr<PromiseBase> keep(this);  // a listener may drop the last outside reference
  if (gate_) [[unlikely]]
    tell_gate();
  while (Turn* t = listeners_.pop()) notify(static_cast<Listener*>(t));
}

void PromiseBase::break_with(Error e) {
  if (!pending()) return;
  Ptr<PromiseBase> keep(this);
  settle_broken(std::move(e));
}

void PromiseBase::settle_broken(Error e) {
  relay_ = nullptr;
  status_ = Status::broken;
  error_ = std::move(e);
  if (!forward_) {
    while (Turn* t = queued_.pop()) break_message(MessagePtr(static_cast<Message*>(t)), error_);
  }
  // A gate holds its call (vat/output_gate.h), so this is not the destructor.
  if (gate_) [[unlikely]]
    tell_gate();
  while (Turn* t = listeners_.pop()) notify(static_cast<Listener*>(t));
}

void PromiseBase::mark_fulfilled(HandlerPtr target) {
  Ptr<PromiseBase> keep(this);
  relay_ = nullptr;
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
  relay_ = nullptr;  // the forward is for good
  forward_ = std::move(h);
  while (Turn* t = queued_.pop()) forward_->deliver(MessagePtr(static_cast<Message*>(t)));
  // Field promises made while nothing was known follow the forward now, not
  // at settlement: a message sent to the field from now on goes straight to
  // forward_'s field, and must not overtake the ones already queued in the
  // field promise (spec/captp.md 5, Pipelining).
  if (listeners_.any_of([](const Turn* t) { return static_cast<const Listener*>(t)->follows_forwards(); })) {
    Ptr<PromiseBase> keep(this);
    std::vector<Listener*> ls;
    listeners_.for_each([&](Turn* t) { ls.push_back(static_cast<Listener*>(t)); });
    for (Listener* l : ls) l->forwarded(*forward_);
  }
}

void PromiseBase::follow(Ptr<PromiseBase> other) {
  if (!pending()) return;
  if (leads_back(other.get())) return break_with(cycle_error());
  forward_to(other);
  other->listen(std::make_unique<FollowListener>(Ptr<PromiseBase>(this)));
}

void Message::run() {
  Object* o = target_ ? target_->near_object() : nullptr;
  if (!o) {
    result_->break_with(Error{ErrorKind::failed, "message delivered to something that is not an object"});
    return;
  }
  // Supervised children, objects with monitors and deliveries the recorder
  // keeps take the observed path; the others pay a test and a countdown
  // (a local delivery the recorder does not sample, recorder.h).
  FlightRecorder* rec = o->home()->impl().recorder.get();
  bool record = rec && (sender_ || rec->sample_local());
  if (record || o->hooks()) [[unlikely]] {
    run_observed(*this, *o, record);
    return;
  }
  {
    CallScope call(result_.get());  // vat/cancel.h: the method's own turn
    invoke(*o);
  }
  finish_run();
}

void Message::finish_run() {
  // A method still working (a suspended Task, a pending Promise it returned)
  // may resume on `this`: keep the object alive until its result settles.
  if (result_ && result_->pending()) result_->listen(std::make_unique<KeepAlive>(std::move(target_)));
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
  if (!entry && method_ == kWhenBroken) {
    // The answer stays pending while the object lives; the object does not
    // keep it (nor itself) alive through it.
    register_monitor(target, take_result());
    return;
  }
  if (!entry && method_ == kWhenResolved) {
    // spec/model.md, Miranda methods: a live object is resolved, so its
    // answer is the object itself, at once (as E's whenResolved on a near
    // reference and Cap'n Proto's whenResolved() on a settled capability).
    out().fulfill(Value(Capability{HandlerPtr(&target)}));
    return;
  }
  if (!entry) {
    out().break_with(Error{ErrorKind::unimplemented, fmt::format("{} has no method {:?}", table.class_name, method_)});
    return;
  }
  entry->invoke(target, args_, out());
}

namespace {

HandlerPtr broken_handler(Vat* home, Error e) {
  auto p = make_ptr<PromiseState<Value>>(home);
  p->break_with(std::move(e));
  return p;
}

// The field of a settled record value, as a handler.
HandlerPtr field_of_value(Vat* home, const Value& v, const std::string& name) {
  if (v.type() != Value::Type::record)
    return broken_handler(home, Error{ErrorKind::failed, fmt::format("pipelined field {:?} of a {}, not a record", name,
                                                                     to_string(v.type()))});
  const Value* f = v.as_record().find(name);
  if (!f) return broken_handler(home, Error{ErrorKind::failed, fmt::format("the record has no field {:?}", name)});
  auto p = make_ptr<PromiseState<Value>>(home);
  p->fulfill(*f);
  return p;
}

// Settles a field promise from the record its source settles to.
class FieldListener final : public Listener {
 public:
  FieldListener(Ptr<PromiseState<Value>> out, std::string name) : out_(std::move(out)), name_(std::move(name)) {}
  void settled(PromiseBase& p) override {
    if (p.status() == PromiseBase::Status::broken) {
      out_->break_with(p.error());
    } else {
      try {
        HandlerPtr h = field_of_value(out_->home(), p.value_as_value(), name_);
        out_->follow(Ptr<PromiseBase>(h->as_promise()));
      } catch (...) {
        out_->break_with(error_from_exception(std::current_exception()));
      }
    }
  }
  // The source now forwards its pipelined messages (to a remote promise, say):
  // so does the field, to the forward's field, flushing what it queued ahead
  // of anything sent to the field later (which takes that path at once: sim
  // seed 221). Only where the forward picks its field here and now: a gate
  // (a membrane's wrapper) answers with another pending field that would
  // follow the next wrapper in turn, for ever (caps
  // Attack.ThroughAPipelinedFieldOfARecord hung); there, and where the field
  // would lead back here, messages wait for the settlement as before.
  bool follows_forwards() const noexcept override { return true; }
  void forwarded(Handler& to) override {
    // Nobody sends to it (only this listener holds it): nothing to keep in
    // order, and asking `to` for a field may cost a message to another vat.
    if (out_->ref_count() == 1 && !out_->observed()) return;
    if (!to.pipelines_fields()) return;
    HandlerPtr field = to.pipeline_field(name_);
    if (out_->leads_back(field.get())) return;
    out_->forward_to(std::move(field));
  }
  void run() override {}

 private:
  Ptr<PromiseState<Value>> out_;
  std::string name_;
};

}  // namespace

HandlerPtr Handler::pipeline_field(const std::string& name) {
  // A promise of another kind (one in another vat) is asked for its outcome.
  if (kind() == RefKind::promise)
    return send_by_name(*this, std::string(kWhenResolved), {}).state()->pipeline_field(name);
  return broken_handler(home(), Error{ErrorKind::failed, fmt::format("pipelined field {:?} of a reference that is not "
                                                                     "a promise",
                                                                     name)});
}

HandlerPtr PromiseBase::pipeline_field(const std::string& name) {
  switch (status_) {
    case Status::broken: return broken_handler(home(), error_);
    case Status::fulfilled: {
      try {
        return field_of_value(home(), value_as_value(), name);
      } catch (...) {
        return broken_handler(home(), error_from_exception(std::current_exception()));
      }
    }
    case Status::pending: break;
  }
  if (forward_) return forward_->pipeline_field(name);
  auto out = make_ptr<PromiseState<Value>>(home());
  listen(std::make_unique<FieldListener>(out, name));
  return out;
}

HandlerPtr PromiseBase::pipeline_field_here(const std::string& name) {
  if (status_ != Status::pending || !forward_) return pipeline_field(name);
  auto out = make_ptr<PromiseState<Value>>(home());
  auto l = std::make_unique<FieldListener>(out, name);
  l->forwarded(*forward_);
  listen(std::move(l));
  return out;
}

Promise<Value> send_by_name(Handler& target, std::string method, std::vector<Value> args) {
  SendContext cx = send_context();
  auto result = make_ptr<PromiseState<Value>>(cx.vat ? cx.vat : target.home());
  MessagePtr m(new DynamicMessage(result, std::move(method), std::move(args)));
  if (cx.gated) [[unlikely]]
    hold_send(*cx.gated, target, std::move(m));
  else
    target.deliver(std::move(m));
  return Promise<Value>(std::move(result));
}

}  // namespace vatic::detail
