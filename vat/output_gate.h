// OutputGate: what holds back the effects a call has outside its object (the
// messages it sends, the promises it resolves) until the call's state is
// durable, and drops them if the call fails (spec/persistence.md 4, "Output
// gate"). vat/ only routes: a call marked gated sends and resolves into its
// gate instead of to their targets; the gate (persist's Slot) decides when
// each held effect leaves, in the order it was made, or that it never does.
//
// A call's turns are the turns in which detail::current_call() is that call
// (its method, the resumptions of the Task it returns, its continuations). A
// turn of a gated call that ends with the call still pending (the Task awaits
// something) hands the gate `turn_ended`: what it sent may be what it awaits,
// so it cannot wait for the end of the call.
//
// Threads: the call's vat.
#pragma once

#include <memory>
#include <utility>

#include "vat/error.h"
#include "vat/promise_state.h"

namespace vatic::detail {

// One held effect: a message to send, a promise to settle. Pooled: a gated
// call that sends makes one per send.
class HeldEffect : public Pooled {
 public:
  using Pooled::operator new;
  using Pooled::operator delete;
  virtual ~HeldEffect() = default;
  virtual void release() = 0;
  // Never happens: whatever waits on it breaks with `why`.
  virtual void discard(const Error& why) noexcept = 0;

 private:
  friend class HeldQueue;
  HeldEffect* next_ = nullptr;
};

// The effects a gate holds, in the order they were made, owned until popped
// (intrusive: holding the first one allocates nothing more).
class HeldQueue {
 public:
  HeldQueue() = default;
  HeldQueue(HeldQueue&& o) noexcept : head_(std::exchange(o.head_, nullptr)), tail_(std::exchange(o.tail_, nullptr)) {}
  HeldQueue& operator=(HeldQueue&&) = delete;
  ~HeldQueue() {
    while (pop()) {
    }
  }
  bool empty() const noexcept { return head_ == nullptr; }
  void push(std::unique_ptr<HeldEffect> e) noexcept {
    HeldEffect* p = e.release();
    if (tail_)
      tail_->next_ = p;
    else
      head_ = p;
    tail_ = p;
  }
  std::unique_ptr<HeldEffect> pop() noexcept {
    HeldEffect* p = head_;
    if (!p) return nullptr;
    head_ = std::exchange(p->next_, nullptr);
    if (!head_) tail_ = nullptr;
    return std::unique_ptr<HeldEffect>(p);
  }

 private:
  HeldEffect* head_ = nullptr;
  HeldEffect* tail_ = nullptr;
};

class OutputGate {
 public:
  virtual void hold(PromiseBase& call, std::unique_ptr<HeldEffect> e) = 0;
  virtual void turn_ended(PromiseBase& call) = 0;
  // The call settled (fulfilled or broken); its mark is already cleared.
  // Told before the call's listeners, and without a listener of its own: a
  // persistent object's every call has a gate, and a listener per call was
  // one allocation more.
  virtual void settled(PromiseBase& call) = 0;
  // Who made the gate: lets its maker find its own gates on a call (a gate
  // may be one object per call) without a table.
  virtual const void* owner() const noexcept = 0;

 protected:
  ~OutputGate() = default;
};

// Marks `call` (the result promise of a call) as gated by `gate` until it
// settles (the mark is cleared, then the gate told), or until
// clear_output_gate, which the gate must call before it is destroyed first.
void set_output_gate(PromiseBase& call, OutputGate* gate);
void clear_output_gate(PromiseBase& call) noexcept;
// The gate `call` is marked with, or null.
OutputGate* output_gate_of(const PromiseBase& call) noexcept;
// The gated call whose turn runs on this thread, or null.
PromiseBase* gated_call() noexcept;

// A held settlement of `subject` by `settle()`.
template <class F>
class HeldSettle final : public HeldEffect {
 public:
  HeldSettle(Ptr<PromiseBase> subject, F settle) : subject_(std::move(subject)), settle_(std::move(settle)) {}
  void release() override { settle_(); }
  void discard(const Error& why) noexcept override {
    if (subject_->pending()) subject_->break_with(why);
  }

 private:
  Ptr<PromiseBase> subject_;
  F settle_;
};

// Hands `settle` (which settles `subject`) to the gate of `call`, or runs it
// now if the call is no longer gated.
void hold_effect(PromiseBase& call, std::unique_ptr<HeldEffect> e);
template <class F>
void hold_settle(PromiseBase& call, Ptr<PromiseBase> subject, F settle) {
  hold_effect(call, std::make_unique<HeldSettle<F>>(std::move(subject), std::move(settle)));
}

}  // namespace vatic::detail
