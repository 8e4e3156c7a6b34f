// Host::describe: the host's inspection view (spec/admin.md, `persist`):
// what the operator sees through `vatic inspect ADMIN-REF persist`. Read-only
// and bounded: at most kMaxShownActivations activations are listed.
#include <chrono>

#include "persist/host.h"
#include "persist/internal/slot.h"

namespace vatic::persist {

namespace {

constexpr std::size_t kMaxShownActivations = 1000;

std::int64_t ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// One "kind" record per registered version.
List kinds_of(const internal::HostState& s) {
  List out;
  for (const auto& [name, family] : s.kinds) {
    const internal::KindInfo* current = family->current();
    for (const auto& [version, k] : family->versions) {
      std::string_view state = k->withdrawn ? "withdrawn" : (k.get() == current ? "current" : "older");
      out.emplace_back(Record{"kind",
                              {{"kind", name},
                               {"version", version},
                               {"state", std::string(state)},
                               {"migrate", static_cast<bool>(k->migrate)},
                               {"activations", k->activations},
                               {"failed_activations", k->failed},
                               {"intensity", static_cast<std::int64_t>(k->intensity)},
                               {"period_ms", ms(k->period)}}});
    }
  }
  return out;
}

Value describe_state(const internal::HostState& s) {
  const HostStats& st = s.stats;
  TimePoint now = s.vat->clock().now();
  List activations;
  std::int64_t hidden = 0;
  for (const auto& [id, slot] : s.slots) {
    const internal::KindInfo* running = slot->running();
    if (!running) continue;
    if (activations.size() >= kMaxShownActivations) {
      ++hidden;
      continue;
    }
    activations.emplace_back(Record{"activation",
                                    {{"id", id},
                                     {"kind", running->name},
                                     {"version", running->version},
                                     {"epoch", slot->epoch()},
                                     {"calls", static_cast<std::int64_t>(slot->calls_in_progress())},
                                     {"pending_writes", static_cast<std::int64_t>(slot->pending_writes())},
                                     {"idle_ms", ms(now - slot->last_used())}}});
  }
  List rollbacks;
  for (const auto& r : s.rollback_log)
    rollbacks.emplace_back(Record{
        "rollback", {{"time_ms", r.time_ms}, {"object", r.object}, {"from", r.from}, {"to", r.to}, {"lost", r.lost}}});
  return Value(Record{"persist",
                      {{"host", s.options.name},
                       {"idle_ms", ms(s.options.idle)},
                       {"active", st.active},
                       {"activations", st.activations},
                       {"passivations", st.passivations},
                       {"commits", st.commits},
                       {"rolled_back_calls", st.rolled_back},
                       {"fenced", st.fenced},
                       {"commit_failures", st.commit_failures},
                       {"migrations", st.migrations},
                       {"rollbacks", st.rollbacks},
                       {"failed_activations", st.failed_activations},
                       {"activations_not_shown", hidden},
                       {"kinds", Value(kinds_of(s))},
                       {"objects", Value(std::move(activations))},
                       {"rollback_log", Value(std::move(rollbacks))}}});
}

}  // namespace

Value Host::describe() const { return describe_state(*s_); }

std::function<Value()> Host::describer() const {
  std::weak_ptr<internal::HostState> w = s_;
  return [w] {
    auto s = w.lock();
    if (!s || s->closed) return Value(Record{"persist", {{"closed", true}}});
    return describe_state(*s);
  };
}

}  // namespace vatic::persist
