#include "vat/supervise/log.h"

#include "vat/internal/hooks.h"
#include "vat/internal/vat_impl.h"
#include "vat/introspect.h"
#include "vat/supervise/supervisor.h"

namespace vatic {

namespace detail {

std::shared_ptr<SupervisionLog> SupervisionLog::of(Vat& v) {
  auto& slot = v.impl().supervision;
  if (!slot) slot = std::make_shared<SupervisionLog>();
  return slot;
}

void SupervisionLog::crashed(CrashRecord r) {
  if (crashes_.size() == kMaxCrashes) crashes_.pop_front();
  crashes_.push_back(std::move(r));
}

}  // namespace detail

Value supervision_tree(Vat& v) {
  List roots;
  if (auto& log = v.impl().supervision) {
    for (Supervisor* s : log->supervisors()) {
      // Nested supervisors appear under their parent's child record.
      auto* hooks = s->hooks();
      if (hooks && hooks->incarnation) continue;
      roots.push_back(s->describe());
    }
  }
  return Value(std::move(roots));
}

Value crash_log(Vat& v) {
  List out;
  if (auto& log = v.impl().supervision) {
    for (const auto& c : log->crashes()) {
      out.push_back(Value(Record{"crash",
                                 {{"time_ms", Value(c.time_ms)},
                                  {"supervisor", Value(c.supervisor)},
                                  {"child", Value(c.child)},
                                  {"exception", Value(c.exception)},
                                  {"message", Value(c.message)},
                                  {"restarts", Value(c.restarts)}}}));
    }
  }
  return Value(std::move(out));
}

}  // namespace vatic
