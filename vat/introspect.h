// Introspection: read-only views of one vat for its operator, as Values so that
// they cross CapTP unchanged (the admin object returns them, `vatic inspect`
// prints them). Each runs on the vat's thread, inside a turn or while the vat
// is not running elsewhere. The record layouts are part of the admin
// interface; spec/admin.md documents every field.
#pragma once

#include "vat/value.h"

namespace vatic {

class Vat;

// Record "stats": turns, turn_failures, queue_depth, live_objects,
// pending_questions, timers, recording (bool), recorder_capacity,
// recorded (deliveries recorded so far), methods (list of "method" records:
// class, method, count, failures, p50_us, p90_us, p99_us, max_us).
Value vat_stats(Vat& v);

// List of "delivery" records (seq, time_ms, target, method, args, sender,
// outcome, duration_us) and "event" records (seq, time_ms, source, what,
// detail), oldest first. Empty when recording is off.
Value recorder_dump(Vat& v);

// List of "supervisor" records, one per root supervisor of the vat: name,
// strategy, intensity, period_ms, state, restarts, children (list of "child"
// records: id, restart, state, restarts, incarnation, and for a child that is
// itself a supervisor, its "supervisor" record under `supervisor`).
Value supervision_tree(Vat& v);

// List of "crash" records, oldest first, bounded: time_ms (unix), supervisor,
// child, exception (type name), message, restarts (the child's count after it).
Value crash_log(Vat& v);

}  // namespace vatic
