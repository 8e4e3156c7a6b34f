// PromiseBase / PromiseState<T>: the shared state behind Promise<T> and its
// resolver. A promise is also a Handler, so a promise for a reference can be sent
// to before it settles (pipelining): messages queue here, in order, and follow
// the promise to wherever it is forwarded: the resolved reference, another
// promise it follows, or the answer slot in another vat.
// Vat-local: only the owning vat's thread touches it.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include "vat/codec.h"
#include "vat/handler.h"

namespace vatic::detail {

class OutputGate;  // vat/output_gate.h

// Runs when a promise settles; each listener fires once. The promise owns its
// listeners (listen() takes a unique_ptr). A listener either runs inline, as
// the promise settles (it overrides `settled`, and the promise destroys it
// when that returns), or runs as a turn of its own in the promise's vat
// (then/co_await: it overrides `runs_as_turn` and `run`, and the vat's turn
// queue owns it from the moment it is scheduled).
class Listener : public Turn {
 public:
  virtual void settled(PromiseBase& p) { (void)p; }
  // The promise listened to now forwards pipelined messages to `to` (before
  // it settles); the listener stays for the settlement.
  virtual void forwarded(Handler& to) { (void)to; }
  virtual bool follows_forwards() const noexcept { return false; }
  virtual bool runs_as_turn() const noexcept { return false; }
  void run() override {}
  // Whether the outcome is still wanted through this listener. A follower or
  // converter whose own promise nobody holds or waits on says no, so that a
  // call only it waits on can be cancelled (CapTP finishes such questions).
  virtual bool wanted() const noexcept { return true; }
  // For a relaying promise (PromiseBase::relay_through): takes a message that
  // would otherwise queue on the pending promise, and must deliver or break it.
  virtual void relay(MessagePtr m) { break_message(std::move(m), Error{ErrorKind::failed, "no relay"}); }
};

class PromiseBase : public Handler, public Pooled {
 public:
  using Pooled::operator new;
  using Pooled::operator delete;
  enum class Status : unsigned char { pending, fulfilled, broken };

  explicit PromiseBase(Vat* home) : Handler(home) {}
  ~PromiseBase() override;

  Status status() const noexcept { return status_; }
  // Whether anything waits on this promise: listeners or queued messages.
  bool observed() const noexcept {
    return !queued_.empty() ||
           listeners_.any_of([](const Turn* t) { return static_cast<const Listener*>(t)->wanted(); });
  }
  bool pending() const noexcept { return status_ == Status::pending; }
  const Error& error() const noexcept { return error_; }

  void deliver(MessagePtr m) override;
  // A settled promise is what it settled to: broken, or its target's kind.
  RefKind kind() const noexcept override {
    if (status_ == Status::broken) return RefKind::broken;
    if (status_ == Status::fulfilled && forward_) return forward_->kind();
    return RefKind::promise;
  }
  PromiseBase* as_promise() noexcept override { return this; }
  Handler* forwards_to() const noexcept override { return forward_.get(); }
  Ptr<Handler> pipeline_field(const std::string& name) override;
  // As pipeline_field(), but a promise of this vat even while this one
  // forwards its messages elsewhere (pipeline_field() hands out the
  // forward's own field then): it settles from this promise's record, and
  // forwards to the forward's field meanwhile, as a field made before the
  // forward does. For a reference whose path counts, not just where messages
  // end up (captp: a receiverAnswer naming our answer).
  Ptr<Handler> pipeline_field_here(const std::string& name);
  bool pipelines_fields() const noexcept override {
    return status_ != Status::pending || !forward_ || forward_->pipelines_fields();
  }

  // Keeps `l` until it fires: once, when (or right away if) settled.
  void listen(std::unique_ptr<Listener> l);

  // Breaks a pending promise and every message queued on it. No-op once settled.
  void break_with(Error e);

  // From now on pipelined messages go to `h` (first call wins); queued ones
  // are flushed to it in order.
  void forward_to(HandlerPtr h);
  Handler* forward() const noexcept { return forward_.get(); }

  // While a pending promise with no forward relays, the messages that would
  // queue on it are handed to `l` instead (those already queued first, in
  // order): a promise that sends on for now without settling or forwarding
  // for good, and can hold again later (captp: a handoff promise uses its
  // introducer's proxy until it switches to the host, spec/captp.md 11, H5).
  // `l` must be one of this promise's listeners; stop_relaying() (or the
  // promise settling) ends it.
  void relay_through(Listener* l);
  void stop_relaying() noexcept { relay_ = nullptr; }
  bool relaying() const noexcept { return relay_ != nullptr; }

  // Cancellation (vat/cancel.h): set on a call's result when nobody wants it
  // any more (a CapTP finish before the answer); the method may look and stop.
  // Only a flag: the promise settles as it would have.
  void request_cancel() noexcept { cancel_requested_ = true; }
  bool cancel_requested() const noexcept { return cancel_requested_; }

  // Whether the value may be a reference (so sends can be pipelined to it).
  virtual bool pipelinable() const noexcept = 0;

  // Settles from a Value that came back from another vat; a decoding failure
  // breaks the promise.
  virtual void settle_from_value(const Value& v) = 0;
  // The same for a Value the caller gives up (one decoded off the wire):
  // bytes and text move into the promise instead of being copied, so a bulk
  // result is not copied a second time on its way to the caller.
  virtual void settle_from_owned_value(Value&& v) = 0;
  // The fulfilled value as a Value, for replies to another vat.
  virtual Value value_as_value() const = 0;
  // A fresh pending promise of the same type, in the same vat: a call's
  // result stand-in that a gate settles the real one from (persist's slot).
  virtual Ptr<PromiseBase> make_like() const = 0;
  // The fulfilled value itself when it is stored as a Value (no copy), else null.
  virtual const Value* value_if_value() const noexcept { return nullptr; }

  // Follow `other`: settle as it settles and forward pipelined messages to it.
  // A promise that would (transitively) follow itself breaks instead.
  void follow(Ptr<PromiseBase> other);
  void copy_outcome_from_public(PromiseBase& other) { copy_outcome_from(other); }

  // Whether following `h` (and whatever it forwards to) reaches this promise.
  bool leads_back(Handler* h) const noexcept;
  static Error cycle_error();

  // Whether this is a call whose sends and resolves are held (vat/output_gate.h).
  bool output_gated() const noexcept { return gate_ != nullptr; }

 protected:
  // Called by the typed state after it stored its value.
  void mark_fulfilled(HandlerPtr pipeline_target);
  virtual void copy_outcome_from(PromiseBase& other) = 0;

 private:
  void fire_listeners();
  // Fires one listener: inline (then destroys it) or as a turn of its own.
  void notify(Listener* l);
  void settle_broken(Error e);  // without keeping itself alive (usable from the destructor)
  void tell_gate();             // a gated call settled (vat/output_gate.h)

  friend void set_output_gate(PromiseBase& call, OutputGate* gate);
  friend void clear_output_gate(PromiseBase& call) noexcept;
  friend OutputGate* output_gate_of(const PromiseBase& call) noexcept;

  Status status_ = Status::pending;
  bool cancel_requested_ = false;  // fits in status_'s padding
  Error error_;
  // The gate of a gated call (vat/output_gate.h), on the promise itself: a
  // persistent object's every call sets and clears it, and a table lookup
  // each time cost more than the word.
  OutputGate* gate_ = nullptr;
  HandlerPtr forward_;
  TurnQueue queued_;           // pipelined messages waiting for a target
  TurnQueue listeners_;        // Listener turns
  Listener* relay_ = nullptr;  // see relay_through; one of listeners_
};

// Which handler pipelined messages go to once a promise for T is fulfilled.
template <class T>
struct PipelineTarget {
  static constexpr bool pipelinable = false;
  static HandlerPtr of(const T&) { return {}; }
};
template <>
struct PipelineTarget<Value> {
  static constexpr bool pipelinable = true;
  static HandlerPtr of(const Value& v) {
    if (v.type() == Value::Type::reference) return v.as_capability().handler;
    return {};
  }
};

template <class T>
class PromiseState final : public PromiseBase {
 public:
  using PromiseBase::PromiseBase;

  void fulfill(T v) {
    if (!pending()) return;
    HandlerPtr target = PipelineTarget<T>::of(v);
    if (target && leads_back(target.get())) return break_with(cycle_error());
    value_.emplace(std::move(v));
    mark_fulfilled(std::move(target));
  }
  const T& value() const { return *value_; }
  T& value() { return *value_; }

  void settle_from_value(const Value& v) override {
    if (!pending()) return;
    std::optional<T> decoded;
    try {
      decoded.emplace(Codec<T>::decode(v));
    } catch (...) {
      break_with(error_from_exception(std::current_exception()));
      return;
    }
    fulfill(std::move(*decoded));
  }
  void settle_from_owned_value(Value&& v) override {
    if (!pending()) return;
    std::optional<T> decoded;
    try {
      decoded.emplace(from_value_moved<T>(v));
    } catch (...) {
      break_with(error_from_exception(std::current_exception()));
      return;
    }
    fulfill(std::move(*decoded));
  }
  Value value_as_value() const override { return Codec<T>::encode(*value_); }
  Ptr<PromiseBase> make_like() const override { return make_ptr<PromiseState<T>>(home()); }
  const Value* value_if_value() const noexcept override {
    if constexpr (std::is_same_v<T, Value>) {
      return value_ ? &*value_ : nullptr;
    } else {
      return nullptr;
    }
  }
  bool pipelinable() const noexcept override { return PipelineTarget<T>::pipelinable; }

 protected:
  void copy_outcome_from(PromiseBase& other) override {
    if (other.status() == Status::broken) return break_with(other.error());
    if (auto* same = dynamic_cast<PromiseState<T>*>(&other)) return fulfill(same->value());
    std::optional<T> decoded;
    try {
      Value v = other.value_as_value();
      decoded.emplace(from_value_moved<T>(v));  // v is ours: its bytes move, not copy
    } catch (...) {
      return break_with(error_from_exception(std::current_exception()));
    }
    fulfill(std::move(*decoded));
  }

 private:
  std::optional<T> value_;
};

inline Ptr<PromiseBase> Message::take_result() noexcept { return std::move(result_); }
inline void Message::set_result(Ptr<PromiseBase> r) noexcept { result_ = std::move(r); }

// The result of the current call (vat/cancel.h) on this thread: the call
// whose method, or a coroutine it started, runs now; null outside any call.
PromiseBase* current_call() noexcept;

// Makes `call` the current call for the scope's lifetime (a method's turn, a
// coroutine's resumption), restoring the previous one after.
class CallScope {
 public:
  explicit CallScope(PromiseBase* call) noexcept;
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  PromiseBase* prev_;
  PromiseBase* prev_gated_;
};

}  // namespace vatic::detail
