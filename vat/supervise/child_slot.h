// ChildSlot: the handler behind every reference to a supervised child. It
// outlives incarnations: while the child runs it hands messages to the current
// incarnation's object; while it restarts it queues them (in order) for the
// next one; once the child is stopped for good it breaks them.
//
// IncarnationImpl: one life of a child (see internal/hooks.h). Retiring it
// breaks what that life still owed: results in flight and monitors.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "vat/internal/hooks.h"
#include "vat/promise_state.h"
#include "vat/supervise/supervisor.h"

namespace vatic::detail {

class ChildSlot;

class IncarnationImpl final : public Incarnation {
 public:
  IncarnationImpl(ChildSlot* slot, Object* obj, CrashOn crash_on) : slot_(slot), obj_(obj), crash_on_(crash_on) {}

  bool retired() const noexcept override { return retired_; }
  Error retired_error() const override { return why_; }
  void escaped(std::exception_ptr e) override;
  void in_flight(Ptr<PromiseBase> result) override;
  // The child finished normally (finish()); its supervisor decides what next.
  void finished();

  // Ends this life: later messages, results in flight and monitors break with `why`.
  void retire(const Error& why);
  Object* object() const noexcept { return obj_; }
  ChildSlot* slot() const noexcept { return slot_; }
  void detach() noexcept { slot_ = nullptr; }

 private:
  ChildSlot* slot_;  // null once the slot moved on
  Object* obj_;      // alive while the slot or a message holds it
  CrashOn crash_on_;
  bool retired_ = false;
  Error why_;
  std::vector<Ptr<PromiseBase>> in_flight_;
};

struct ChildRecord;

class ChildSlot final : public Handler {
 public:
  enum class State : unsigned char { running, restarting, stopped };

  ChildSlot(Vat* home, Supervisor* owner, ChildRecord* child) : Handler(home), owner_(owner), child_(child) {}
  ~ChildSlot() override;

  void deliver(MessagePtr m) override;
  RefKind kind() const noexcept override { return state_ == State::stopped ? RefKind::broken : RefKind::near; }
  Object* near_object() noexcept override { return state_ == State::running && obj_ ? obj_->near_object() : nullptr; }

  State state() const noexcept { return state_; }
  IncarnationImpl* incarnation() const noexcept { return inc_.get(); }

  // A new incarnation takes over; queued messages go to it in order.
  void attach(HandlerPtr obj, CrashOn crash_on);
  // New messages queue from now on; the current incarnation may still finish
  // what it has (a graceful stop).
  void hold() noexcept {
    if (state_ == State::running) state_ = State::restarting;
  }
  // The current incarnation ends with `why`; messages queue until `attach`.
  void suspend(const Error& why);
  // The child is stopped for good: everything queued and later breaks.
  void stop(const Error& why);

  Supervisor* owner() const noexcept { return owner_; }
  ChildRecord* child() const noexcept { return child_; }

 private:
  Supervisor* owner_;
  ChildRecord* child_;
  State state_ = State::restarting;
  HandlerPtr obj_;
  Ptr<IncarnationImpl> inc_;
  std::deque<MessagePtr> queued_;
  Error stopped_;
};

struct ChildRecord {
  ChildSpec spec;
  Ptr<ChildSlot> slot;
  std::int64_t restarts = 0;
  std::int64_t incarnation = 0;
  bool dynamic = false;
  bool finished = false;  // ended normally (finish()) during its last turn
};

// Messages that may wait in a slot while its child restarts or backs off;
// more break with `overloaded` rather than grow without bound.
inline constexpr std::size_t kMaxQueuedInSlot = 100'000;

// The type name and message of what escaped, for crash logs and reasons.
std::pair<std::string, std::string> describe_exception(std::exception_ptr e);

}  // namespace vatic::detail
