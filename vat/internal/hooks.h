// ObjectHooks: what a few objects carry beyond their methods: the answers of
// monitors waiting for the object to go away, and the incarnation record that
// makes the object a supervised child. Most objects have none, so an Object
// holds only a null pointer and the delivery fast path tests one word.
//
// Incarnation: one life of a supervised child. A supervisor makes one per
// start; the delivery path asks it whether a message may still run (a retired
// incarnation breaks late messages with `disconnected`), scopes escapes to it,
// and hands it the results that are still working so a crash can break them.
#pragma once

#include <exception>
#include <vector>

#include "vat/handler.h"
#include "vat/internal/refcounted.h"

namespace vatic::detail {

class PromiseBase;

class Incarnation : public RefCounted {
 public:
  // Whether the child was restarted or stopped since this incarnation began;
  // messages that reach it afterwards break with `retired_error()`.
  virtual bool retired() const noexcept = 0;
  virtual Error retired_error() const = 0;
  // An exception escaped one of this incarnation's turns or tasks.
  virtual void escaped(std::exception_ptr e) = 0;
  // A result still pending after its turn: broken if the incarnation retires.
  virtual void in_flight(Ptr<PromiseBase> result) = 0;
};

struct ObjectHooks {
  std::vector<Ptr<PromiseBase>> monitors;  // answers to __whenBroken
  Ptr<Incarnation> incarnation;            // set while the object is a supervised child
};

// Adds a __whenBroken answer to `o`'s monitors (dropping answers nobody
// waits for any more).
void register_monitor(Object& o, Ptr<PromiseBase> answer);
// Breaks and forgets `o`'s monitors.
void break_monitors(Object& o, const Error& why);

// The incarnation whose turn runs on this thread (null outside supervised turns).
Incarnation* current_incarnation() noexcept;

// The incarnation a Task made now belongs to: the first Task a supervised
// method makes (its own coroutine), else null.
Incarnation* claim_incarnation() noexcept;

// Runs `m` on `o` with the vat's observers: the flight recorder (if `record`:
// the vat records and this delivery is one it keeps, recorder.h) and, for a
// supervised child, its incarnation. Message::run's slow path.
void run_observed(Message& m, Object& o, bool record);

// Called where an exception is turned into a broken promise: a supervised
// child's turn or task reports it as a crash.
void note_escape(Incarnation* inc, std::exception_ptr e) noexcept;

}  // namespace vatic::detail
