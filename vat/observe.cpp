// The observed delivery path: what Message::run does for a supervised child,
// an object with monitors, or any object of a recording vat.
#include "vat/internal/hooks.h"
#include "vat/internal/vat_impl.h"
#include "vat/recorder.h"

namespace vatic::detail {

namespace {
thread_local Incarnation* t_incarnation = nullptr;
// Set while a supervised method starts: the first Task made then is the
// method's own coroutine, whose escaping exception is the child's crash
// (tasks the method makes later are helpers it may await and catch).
thread_local bool t_claimable = false;

class IncarnationScope {
 public:
  explicit IncarnationScope(Incarnation* inc) noexcept : prev_(t_incarnation), prev_claim_(t_claimable) {
    t_incarnation = inc;
    t_claimable = inc != nullptr;
  }
  ~IncarnationScope() {
    t_incarnation = prev_;
    t_claimable = prev_claim_;
  }

 private:
  Incarnation* prev_;
  bool prev_claim_;
};
}  // namespace

Incarnation* current_incarnation() noexcept { return t_incarnation; }

Incarnation* claim_incarnation() noexcept {
  if (!t_claimable) return nullptr;
  t_claimable = false;
  return t_incarnation;
}

void note_escape(Incarnation* inc, std::exception_ptr e) noexcept {
  if (!inc) return;
  try {
    inc->escaped(std::move(e));
  } catch (...) {
    // Restarting is best effort from here; the supervisor logs its own failures.
  }
}

void run_observed(Message& m, Object& o, bool record) {
  Incarnation* inc = o.hooks() ? o.hooks()->incarnation.get() : nullptr;
  if (inc && inc->retired()) {
    // Sent to this incarnation before it ended: the caller may retry.
    if (auto r = m.take_result()) r->break_with(inc->retired_error());
    return;
  }
  Ptr<Incarnation> keep(inc);
  FlightRecorder* rec = record ? o.home()->impl().recorder.get() : nullptr;
  FlightRecorder::Ticket ticket;
  if (rec) ticket = rec->begin(m, o);
  {
    IncarnationScope scope(inc);
    CallScope call(m.result_or_null());  // vat/cancel.h
    m.invoke(o);
  }
  PromiseBase* result = m.result_or_null();
  if (rec) rec->end(ticket, result);
  if (inc && result && result->pending()) inc->in_flight(Ptr<PromiseBase>(result));
  m.finish_run();
}

}  // namespace vatic::detail
