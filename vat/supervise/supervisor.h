// Supervisor: an object that starts children from child specs and restarts
// them when they crash, after Erlang/OTP's supervisor and suture. A crash is
// an exception escaping one of the child's turns or tasks (or `crash()`).
//
// A reference to a supervised child designates its *slot*, not one
// incarnation: after a restart, later messages reach the new incarnation with
// fresh state, while calls in flight at the crash (queued, suspended, or
// waiting on a pending result) break with `disconnected` and a reason saying
// it restarted, so retrying them is safe. A slot whose child is stopped for
// good breaks for good. Monitors on a child (`monitor(ref)`) fire when the
// incarnation they were set on ends.
//
// Strategies: one_for_one restarts the crashed child; one_for_all stops the
// others and restarts all; rest_for_one restarts the crashed child and those
// started after it; simple_one_for_one holds dynamic children of one template.
// More than `intensity` restarts within `period` stops every child and the
// supervisor, which then crashes into its parent (supervisors nest into
// trees); with `backoff` set it instead pauses restarts for that long
// (suture's behaviour) and resumes. Every crash is logged (vat/introspect.h:
// crash_log) and recorded by the vat's flight recorder.
//
// A supervisor lives while a reference to it is held: keep the root's.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vat/clock.h"
#include "vat/codec.h"
#include "vat/object.h"
#include "vat/ref.h"
#include "vat/timer.h"

namespace vatic {

enum class Restart : unsigned char {
  permanent,  // always restarted
  transient,  // restarted after a crash, not after finishing normally
  temporary,  // never restarted
};

enum class Strategy : unsigned char { one_for_one, one_for_all, rest_for_one, simple_one_for_one };

enum class CrashOn : unsigned char {
  any_exception,  // everything that escapes a turn crashes the child (Erlang's rule)
  unexpected,     // a VatError is an answer (the caller's promise breaks, the child lives on)
};

std::string_view to_string(Restart r) noexcept;
std::string_view to_string(Strategy s) noexcept;

struct ChildSpec {
  std::string id;
  // Makes one incarnation: a new object of the supervisor's vat. Runs inside
  // a turn of that vat, at start and at every restart.
  std::function<Ref<Object>()> start;
  Restart restart = Restart::permanent;
  // How long a child that implements Graceful may take to stop before it is
  // cut off.
  Duration shutdown = std::chrono::seconds(5);
  CrashOn crash_on = CrashOn::any_exception;
};

struct SupervisorOptions {
  std::string name = "supervisor";
  Strategy strategy = Strategy::one_for_one;
  int intensity = 3;  // restarts allowed within `period`
  Duration period = std::chrono::seconds(5);
  // When set, exceeding the intensity pauses restarts for this long instead
  // of escalating.
  std::optional<Duration> backoff;
  // For simple_one_for_one: what `spawn` children share (its `start` is
  // unused; each spawn brings its own).
  ChildSpec child_template;
};

// Implemented by a child that wants to finish its work when its supervisor
// stops it (not when it crashes). Past the spec's `shutdown` deadline the
// child is cut off anyway.
class Graceful {
 public:
  virtual ~Graceful() = default;
  virtual Promise<void> shutdown() = 0;
};

// Inside a child's turn: crash it now with `reason` (whatever its CrashOn).
[[noreturn]] void crash(std::string reason);
// Inside a child's turn: the child finishes normally once this turn ends.
// A permanent child is restarted; transient and temporary ones stop for good.
void finish();

// The exception `crash()` throws.
class ChildCrash : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ChildInfo {
  std::string id;
  std::string restart;  // permanent, transient, temporary
  std::string state;    // running, restarting, stopped
  std::int64_t restarts = 0;
  std::int64_t incarnation = 0;  // 1 for the first start
  bool supervisor = false;
  VATIC_FIELDS(ChildInfo, id, restart, state, restarts, incarnation, supervisor)
};

class Supervisor;

namespace detail {
class ChildSlot;
class IncarnationImpl;
class SupervisionLog;
struct ChildRecord;
// The supervisor behind a near reference of the current vat; throws otherwise.
Supervisor& near_supervisor(const HandlerPtr& h);
}  // namespace detail

class Supervisor : public Object {
 public:
  explicit Supervisor(SupervisorOptions options);
  ~Supervisor() override;

  const SupervisorOptions& options() const noexcept { return options_; }
  // running, backoff (restarts paused), failed (gave up), stopped.
  std::string_view state() const noexcept;

  // --- By name (tools, other vats).
  std::vector<ChildInfo> which_children() const;
  std::int64_t restarts() const noexcept { return total_restarts_; }
  // Stops the child (gracefully, within its deadline) and does not restart
  // it; its references break for good. A dynamic child is forgotten.
  Promise<void> terminate_child(std::string id);
  // Stops and starts the child again (not counted as a crash).
  Promise<void> restart_child(std::string id);
  // Stops every child, last started first; the supervisor then refuses work.
  Promise<void> stop();

  VATIC_METHODS(Supervisor, which_children, restarts, terminate_child, restart_child, stop)

  // --- Local API (see start_child/spawn below for the typed forms).
  // Starts a child now; throws what its start function throws.
  detail::HandlerPtr add_child(ChildSpec spec);
  // simple_one_for_one: a new child from the template, started by `start`.
  detail::HandlerPtr spawn_child(std::function<Ref<Object>()> start);
  // The slot of child `id`, or null.
  detail::HandlerPtr child_slot(std::string_view id) const;

  // A "supervisor" record (vat/introspect.h) for this subtree.
  Value describe() const;

 private:
  friend class detail::ChildSlot;
  friend class detail::IncarnationImpl;
  friend class detail::SupervisionLog;
  using Child = detail::ChildRecord;

  detail::HandlerPtr first_start(ChildSpec spec, bool dynamic);
  void child_crashed(Child& c, std::exception_ptr e);
  void child_finished(Child& c);
  void restart_after(Child& c, const std::string& why);
  void restart_now(Child& c);
  bool note_restart();  // false once the intensity is exceeded
  void give_up(const std::string& why);
  // Ends the whole subtree at once (this supervisor's own incarnation ended).
  void halt(const std::string& why);
  void resume_after_backoff();
  void start_incarnation(Child& c, bool first);
  // Stops `which`, last started first; temporary children get `why_temporary`
  // when it is given (they will not come back).
  Promise<void> stop_children(std::vector<Child*> which, const std::string& why, const std::string& why_temporary = {});
  Promise<void> stop_one(Child& c, const std::string& why);
  void forget(Child& c);
  std::size_t index_of(const Child& c) const;
  Child* find(std::string_view id) const;
  static std::vector<std::string> ids_of(const std::vector<Child*>& which);
  void log_event(std::string_view what, const std::string& detail);

  SupervisorOptions options_;
  std::vector<std::unique_ptr<Child>> children_;  // in start order
  std::deque<TimePoint> recent_restarts_;
  std::int64_t total_restarts_ = 0;
  std::uint64_t next_dynamic_ = 1;
  enum class State : unsigned char { running, backoff, failed, stopped } state_ = State::running;
  Timer backoff_timer_;
  std::shared_ptr<detail::SupervisionLog> log_;
};

// Starts a child of `sup` (a near reference) and returns a reference to its
// slot, typed as what the spec's start function makes.
template <class T>
Ref<T> start_child(const Ref<Supervisor>& sup, ChildSpec spec) {
  Supervisor& s = detail::near_supervisor(detail::RefAccess::handler(sup));
  return detail::ref_from_handler<T>(s.add_child(std::move(spec)));
}

// A dynamic child of a simple_one_for_one supervisor.
template <class T>
Ref<T> spawn(const Ref<Supervisor>& sup, std::function<Ref<Object>()> start) {
  Supervisor& s = detail::near_supervisor(detail::RefAccess::handler(sup));
  return detail::ref_from_handler<T>(s.spawn_child(std::move(start)));
}

// The slot of child `id` of `sup`, or an empty reference.
template <class T>
Ref<T> child_ref(const Ref<Supervisor>& sup, std::string_view id) {
  Supervisor& s = detail::near_supervisor(detail::RefAccess::handler(sup));
  detail::HandlerPtr h = s.child_slot(id);
  return h ? detail::ref_from_handler<T>(std::move(h)) : Ref<T>();
}

}  // namespace vatic
