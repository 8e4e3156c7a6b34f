// Gate and Switch: what revocable forwarders and membrane wrappers share.
//
// A Gate is a Handler that stands in front of another reference (its target)
// and can be cut off. Messages do not go through it synchronously: deliver()
// queues each one as a turn of the gate's vat, and only when that turn runs
// does the message leave (pass()), so a message sent before a revoke but not
// yet run breaks with the revocation instead of reaching the target. While the
// target is a local promise that is still pending (and not yet forwarded
// anywhere), messages are held here, in order, rather than in the promise: a
// revoke then breaks them too. A subclass may also hold a message back until
// some promise settles (a membrane that must learn where a call lands). Messages that already left for another vat or
// peer cannot be called back; their answers are broken on the way back.
//
// A Switch is the off-switch a family of gates shares (the gates of one
// revocable forwarder and whatever it handed out, or every wrapper of one
// membrane). Cutting it breaks held messages, drops every gate's target so it
// can be freed, and breaks the answers still awaited through the family.
//
// Vat-local: a switch and all its gates belong to the vat of the first gate
// (every later gate of a family is made while a message passes through an
// earlier one, in that vat); only that vat's thread touches them.
// (Implemented in caps/forwarder.cpp.)
#pragma once

#include <memory>
#include <optional>
#include <unordered_set>

#include "vat/promise_state.h"

namespace vatic::caps::internal {

class Gate;
class Outcome;

class Switch {
 public:
  Switch() = default;
  Switch(const Switch&) = delete;
  Switch& operator=(const Switch&) = delete;
  virtual ~Switch() = default;

  bool is_cut() const noexcept { return cut_.has_value(); }
  // Why the switch was cut (only when is_cut()).
  const Error& error() const noexcept { return *cut_; }

  // Cuts every gate and outcome of the family; later calls do nothing.
  void cut(Error why);

  std::size_t live_gates() const noexcept { return gates_.size(); }

 private:
  friend class Gate;
  friend class Outcome;
  std::optional<Error> cut_;
  // Registries of what is alive now; entries remove themselves when destroyed.
  std::unordered_set<Gate*> gates_;
  std::unordered_set<Outcome*> outcomes_;
};

class Gate : public detail::Handler {
 public:
  ~Gate() override;

  // Queues `m` as a turn of this gate's vat (or breaks it if cut). Never throws.
  void deliver(detail::MessagePtr m) final;
  // Broken once cut; a near target reads as far (no synchronous calls
  // through a gate); otherwise whatever the target is.
  detail::RefKind kind() const noexcept final;
  // For the promise cycle checks: messages to a gate reach its target.
  detail::Handler* forwards_to() const noexcept final { return target_.get(); }

  // The turn deliver() queued: the message leaves now or waits behind others.
  void admit(detail::MessagePtr m);
  // The promise held messages waited for settled: let them go on.
  void wake();
  // Breaks held messages and drops the target (the switch was cut).
  void cut(const Error& why);

 protected:
  // A gate of `sw`'s family in front of `target`, living in `home`. When the
  // switch is already cut the gate is born broken and keeps no target.
  Gate(Vat* home, detail::HandlerPtr target, std::shared_ptr<Switch> sw);

  // Sends `m` on to the target, or says what it must wait for first. Only
  // called while the target is live and the switch is not cut, in a turn of
  // this gate's vat. Either takes `m` (leaving it null; its result must then
  // be settled or forwarded) and returns null, or leaves `m` alone and
  // returns a pending local promise: `m` and those behind it are held until
  // that promise settles, then offered again.
  virtual detail::PromiseBase* pass(detail::MessagePtr& m) = 0;
  // Called when the switch is cut, after the target was dropped: drop
  // anything else that could keep the target's world alive.
  virtual void on_cut() noexcept {}

  // Null once cut.
  const detail::HandlerPtr& target() const noexcept { return target_; }
  Switch& control() const noexcept { return *switch_; }
  const std::shared_ptr<Switch>& control_ptr() const noexcept { return switch_; }

 private:
  // The local promise at the end of the target's forwarding chain, if it is
  // still pending and not forwarded: what held messages wait for.
  detail::PromiseBase* pending_end() const noexcept;
  void flush();
  Error cut_error() const;

  detail::HandlerPtr target_;
  std::shared_ptr<Switch> switch_;
  detail::MessagePtr next_;  // the first held message, taken out while pass() considers it
  detail::TurnQueue held_;   // admitted messages behind it, in order
  bool waiting_ = false;     // a wake-up is registered
};

// Settles a caller's result from the outcome of the call a wrapper made on its
// behalf, after carry() made the value fit for the caller (wrapping the
// references in it). Registered with a switch (if any) so that cutting the
// switch breaks the caller's result at once, even if the answer never comes.
// An inline listener: it runs as the inner promise settles.
class Outcome : public detail::Listener {
 public:
  Outcome(detail::Ptr<detail::PromiseBase> out, std::shared_ptr<Switch> sw);
  ~Outcome() override;

  void settled(detail::PromiseBase& inner) final;
  void run() final {}
  // Breaks the caller's result (the switch was cut).
  void cut(const Error& why);

 protected:
  // Rewrites a value coming back to the caller. May throw (the result breaks).
  virtual void carry(Value& v) = 0;
  // Null when the outcome belongs to no family.
  const std::shared_ptr<Switch>& control_ptr() const noexcept { return switch_; }

 private:
  detail::Ptr<detail::PromiseBase> out_;
  std::shared_ptr<Switch> switch_;
};

// Hands `m` on to `target`. A near object runs it at once, in the current
// turn (the turn the gate queued is the message's turn, so nothing can slip in
// between the check and the delivery); anything else gets it by deliver().
void pass_on(const detail::HandlerPtr& target, detail::MessagePtr m);

}  // namespace vatic::caps::internal
