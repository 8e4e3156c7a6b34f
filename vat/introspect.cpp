// vat_stats and recorder_dump (introspect.h); the supervision views live with
// the supervisors in vat/supervise.
#include "vat/introspect.h"

#include "vat/recorder.h"
#include "vat/vat.h"

namespace vatic {

Value vat_stats(Vat& v) {
  VatStats s = v.stats();
  FlightRecorder* rec = v.recorder();
  auto n = [](std::uint64_t x) { return static_cast<std::int64_t>(x); };
  return Value(Record{"stats",
                      {{"turns", n(s.turns_run)},
                       {"turn_failures", n(s.turn_failures)},
                       {"queue_depth", n(s.queued_turns)},
                       {"live_objects", n(s.live_objects)},
                       {"pending_questions", n(s.pending_questions)},
                       {"timers", n(s.timers)},
                       {"recording", rec != nullptr},
                       {"recorder_capacity", n(rec ? rec->capacity() : 0)},
                       {"recorded", n(rec ? rec->recorded() : 0)},
                       {"recorder_local_sample_every", n(rec ? rec->local_sample_every() : 0)},
                       {"methods", rec ? rec->method_stats() : Value(List{})}}});
}

Value recorder_dump(Vat& v) {
  FlightRecorder* rec = v.recorder();
  return rec ? rec->dump() : Value(List{});
}

}  // namespace vatic
