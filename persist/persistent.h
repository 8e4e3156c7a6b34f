// Persistent: the base of objects whose state outlives their activations
// (spec/persistence.md). A subclass declares its methods with VATIC_METHODS
// like any object, keeps its state in kv() and Cell members, and is
// registered with a persist::Host under a kind name and version; the host
// makes (activates) it when a message arrives and releases it (passivates)
// when idle. Its constructor takes no arguments: everything it knows comes
// from the kv, read in on_activate() or on demand.
//
//   class Account : public vatic::persist::Persistent {
//    public:
//     std::int64_t deposit(std::int64_t n) {
//       if (n <= 0) throw vatic::VatError(vatic::ErrorKind::failed, "deposit must be positive");
//       balance_.set(balance_.get() + n);
//       return balance_.get();
//     }
//     VATIC_METHODS(Account, deposit)
//    private:
//     vatic::persist::Cell<std::int64_t> balance_{this, "balance", 0};
//   };
//
// References to itself come from self(), never from ref_to(): they reach its
// slot, which outlives this activation and keeps calls transactional.
//
// Threads: its vat's, like any object.
#pragma once

#include <string>

#include "persist/kv.h"
#include "vat/ref.h"

namespace vatic::persist {

namespace internal {
class Slot;
}

// spec/persistence.md 8: the latest due time of a reminder (the last
// millisecond of the year 9999, in unix milliseconds) and the longest period
// (100 years of 365.25 days). Both keep due times and their sums far from
// overflow.
inline constexpr std::int64_t kMaxReminderDueMs = 253'402'300'799'999;
inline constexpr std::int64_t kMaxReminderPeriodMs = 3'155'760'000'000;

class Persistent : public Object {
 public:
  Kv& kv() noexcept { return kv_; }
  const Kv& kv() const noexcept { return kv_; }

  // "<kind>/<key>" (spec/persistence.md, section 1). Throws once passivated.
  const std::string& persistent_id() const;

  // Runs once per activation, before the first message; reads only (writes
  // belong to calls). An exception here fails the activation and the message
  // that caused it.
  virtual void on_activate() {}

  // Runs as a call of its own when the reminder `name` is due (spec 8); its
  // writes commit with it. The default fails: a kind that sets reminders
  // overrides it.
  virtual void on_reminder(const std::string& name);

 protected:
  Persistent() = default;

  // A durable timer (spec/persistence.md 8), set or replaced in the current
  // call and committed with it: on_reminder(name) runs at `due_unix_ms` (wall
  // clock, the vat clock's unix_ms()), then every `period_ms` if not 0.
  // `due_unix_ms` is 0 to kMaxReminderDueMs, `period_ms` 0 to
  // kMaxReminderPeriodMs; anything else fails the call.
  void remind(std::string_view name, std::int64_t due_unix_ms, std::int64_t period_ms = 0);
  void forget(std::string_view name);

  // spec/persistence.md 10: this activation is broken beyond a failed call
  // (its plain C++ members, its cache, no longer hold): the current call
  // breaks with `disconnected`, its writes roll back, the activation ends
  // (its other calls in flight break, safe to retry) and the next message
  // restarts the object from its committed state, under its kind's
  // intensity. A thrown VatError stays what spec section 3 says: a failed
  // call of an object that keeps serving.
  [[noreturn]] void crash(std::string reason);

  // A reference to this object's slot, valid across activations.
  template <class Self>
  Ref<Self> self(Self* s) const {
    (void)s;
    return detail::RefAccess::make<Self>(slot_handler());
  }

 private:
  friend class Kv;
  friend class internal::Slot;
  detail::HandlerPtr slot_handler() const;
  // The slot while this is its activation; throws VatError(failed) after.
  internal::Slot& slot() const;

  internal::Slot* slot_ = nullptr;
  Kv kv_{this};
};

template <class T>
T Cell<T>::get() const {
  return owner_->kv().template get<T>(key_).value_or(initial_);
}

template <class T>
void Cell<T>::set(const T& v) {
  owner_->kv().put(key_, v);
}

}  // namespace vatic::persist
