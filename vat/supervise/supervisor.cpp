#include "vat/supervise/supervisor.h"

#include <chrono>

#include <fmt/format.h>

#include "vat/internal/hooks.h"
#include "vat/internal/vat_impl.h"
#include "vat/supervise/child_slot.h"
#include "vat/supervise/log.h"
#include "vat/utf8.h"
#include "vat/vat.h"

namespace vatic {

using detail::ChildRecord;
using detail::ChildSlot;
using detail::Ptr;

std::string_view to_string(Restart r) noexcept {
  switch (r) {
    case Restart::permanent: return "permanent";
    case Restart::transient: return "transient";
    case Restart::temporary: return "temporary";
  }
  return "?";
}

std::string_view to_string(Strategy s) noexcept {
  switch (s) {
    case Strategy::one_for_one: return "one_for_one";
    case Strategy::one_for_all: return "one_for_all";
    case Strategy::rest_for_one: return "rest_for_one";
    case Strategy::simple_one_for_one: return "simple_one_for_one";
  }
  return "?";
}

namespace {

// What a supervisor that gave up throws into its own parent.
class SupervisorGaveUp : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Error gone(std::string reason) { return Error{ErrorKind::disconnected, std::move(reason)}; }

detail::IncarnationImpl* current_child() {
  auto* inc = dynamic_cast<detail::IncarnationImpl*>(detail::current_incarnation());
  if (!inc) throw std::logic_error("crash()/finish() are for a supervised child's own turns");
  return inc;
}

}  // namespace

void crash(std::string reason) {
  current_child();  // refuses a call outside a child's turn
  throw ChildCrash(std::move(reason));
}

void finish() {
  detail::IncarnationImpl* inc = current_child();
  Vat* v = inc->object()->home();
  Ptr<detail::IncarnationImpl> keep(inc);
  // After this turn: the child's last answer leaves first.
  v->post([keep] { keep->finished(); });
}

namespace detail {
void IncarnationImpl::finished() {
  if (retired_ || !slot_ || !slot_->owner()) return;
  slot_->owner()->child_finished(*slot_->child());
}

Supervisor& near_supervisor(const HandlerPtr& h) {
  Object* o = h ? h->near_object() : nullptr;
  auto* s = dynamic_cast<Supervisor*>(o);
  if (!s || (current_vat() && s->home() != current_vat()))
    throw_error(ErrorKind::failed, "a near reference to a supervisor of this vat is needed");
  return *s;
}
}  // namespace detail

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
  if (options_.intensity < 0) throw std::invalid_argument("supervisor intensity must be >= 0");
  log_ = detail::SupervisionLog::of(vat());
  log_->add(this);
}

Supervisor::~Supervisor() {
  backoff_timer_.cancel();
  halt(fmt::format("supervisor {} is gone", options_.name));
  log_->remove(this);
}

std::string_view Supervisor::state() const noexcept {
  switch (state_) {
    case State::running: return "running";
    case State::backoff: return "backoff";
    case State::failed: return "failed";
    case State::stopped: return "stopped";
  }
  return "?";
}

// --- Children.

detail::HandlerPtr Supervisor::add_child(ChildSpec spec) {
  if (options_.strategy == Strategy::simple_one_for_one)
    throw_error(ErrorKind::failed, "a simple_one_for_one supervisor starts children with spawn()");
  if (find(spec.id))
    throw_error(ErrorKind::failed, fmt::format("supervisor {} already has a child {:?}", options_.name, spec.id));
  return first_start(std::move(spec), false);
}

detail::HandlerPtr Supervisor::spawn_child(std::function<Ref<Object>()> start) {
  if (options_.strategy != Strategy::simple_one_for_one)
    throw_error(ErrorKind::failed, "spawn() is for simple_one_for_one supervisors; use start_child()");
  ChildSpec spec = options_.child_template;
  spec.id = fmt::format("{}-{}", spec.id.empty() ? "child" : spec.id, next_dynamic_++);
  spec.start = std::move(start);
  return first_start(std::move(spec), true);
}

// Starts a new child now; a start that throws leaves no trace but the
// exception, which the caller gets.
detail::HandlerPtr Supervisor::first_start(ChildSpec spec, bool dynamic) {
  if (state_ == State::failed || state_ == State::stopped)
    throw_error(ErrorKind::disconnected, fmt::format("supervisor {} is {}", options_.name, state()));
  if (!spec.start) throw_error(ErrorKind::failed, "a child spec needs a start function");
  auto c = std::make_unique<ChildRecord>();
  c->spec = std::move(spec);
  c->dynamic = dynamic;
  c->slot = detail::make_ptr<ChildSlot>(&vat(), this, c.get());
  ChildRecord& ref = *c;
  children_.push_back(std::move(c));
  try {
    start_incarnation(ref, true);
  } catch (...) {
    ref.slot->stop(gone(fmt::format("child {} of {} failed to start", ref.spec.id, options_.name)));
    children_.pop_back();
    throw;
  }
  return ref.slot;
}

detail::HandlerPtr Supervisor::child_slot(std::string_view id) const {
  Child* c = find(id);
  return c ? detail::HandlerPtr(c->slot) : nullptr;
}

Supervisor::Child* Supervisor::find(std::string_view id) const {
  for (const auto& c : children_)
    if (c->spec.id == id) return c.get();
  return nullptr;
}

std::size_t Supervisor::index_of(const Child& c) const {
  for (std::size_t i = 0; i < children_.size(); ++i)
    if (children_[i].get() == &c) return i;
  return children_.size();
}

void Supervisor::start_incarnation(Child& c, bool first) {
  Ref<Object> made = c.spec.start();
  const detail::HandlerPtr& h = detail::RefAccess::handler(made);
  Object* o = h ? h->near_object() : nullptr;
  if (!o || o->home() != &vat() || dynamic_cast<ChildSlot*>(h.get()))
    throw_error(ErrorKind::failed, fmt::format("the start function of child {} must make a new object of vat {}",
                                               c.spec.id, vat().name()));
  if (o->hooks() && o->hooks()->incarnation && !o->hooks()->incarnation->retired())
    throw_error(ErrorKind::failed, fmt::format("the start function of child {} returned an object that is already "
                                               "supervised",
                                               c.spec.id));
  ++c.incarnation;
  c.slot->attach(h, c.spec.crash_on);
  log_event(first ? "start" : "restart", fmt::format("{} incarnation {}", c.spec.id, c.incarnation));
}

// A restart that itself fails counts as another crash of the child.
void Supervisor::restart_now(Child& c) {
  if (state_ != State::running || c.slot->state() != ChildSlot::State::restarting) return;
  try {
    start_incarnation(c, false);
  } catch (...) {
    child_crashed(c, std::current_exception());
  }
}

void Supervisor::child_crashed(Child& c, std::exception_ptr e) {
  auto [type, message] = detail::describe_exception(e);
  std::string what = fmt::format("child {} of supervisor {} crashed: {}: {}", c.spec.id, options_.name, type, message);
  bool restart = c.spec.restart != Restart::temporary && (state_ == State::running || state_ == State::backoff);
  if (restart) ++c.restarts;
  log_->crashed(detail::CrashRecord{vat().clock().unix_ms(), options_.name, c.spec.id, type, message, c.restarts});
  log_event("crash", what);
  // spec/log.md: supervisor.crash. Ids and names are the program's, the
  // message may be anything the crashed code put in its exception.
  if (vat().log_enabled(LogLevel::warn))
    vat().log(LogEvent{LogLevel::warn,
                       "vat",
                       "supervisor.crash",
                       utf8::printable(what),
                       {{"supervisor", utf8::printable(options_.name)},
                        {"child", utf8::printable(c.spec.id)},
                        {"exception", utf8::printable(type)},
                        {"reason", utf8::printable(message)},
                        {"restarts", std::to_string(c.restarts)},
                        {"restarted", restart ? "true" : "false"}}});
  if (!restart) {
    c.slot->stop(gone(what + "; not restarted"));
    forget(c);
    return;
  }
  restart_after(c, what);
}

void Supervisor::child_finished(Child& c) {
  std::string what = fmt::format("child {} of supervisor {} finished", c.spec.id, options_.name);
  log_event("finish", what);
  bool restart = c.spec.restart == Restart::permanent && (state_ == State::running || state_ == State::backoff);
  if (!restart) {
    c.slot->stop(gone(what));
    forget(c);
    return;
  }
  restart_after(c, what);
}

void Supervisor::restart_after(Child& c, const std::string& why) {
  std::string reason;
  if (state_ == State::backoff) {
    // Restarts are paused: the child (and its group) waits for the resume.
    reason = why + "; restarts are paused (backoff), retry is safe";
  } else if (note_restart()) {
    ++total_restarts_;
    reason = why + "; restarted, retry is safe";
  } else {
    std::string over = fmt::format("{}; more than {} restarts in {} ms", why, options_.intensity,
                                   std::chrono::duration_cast<std::chrono::milliseconds>(options_.period).count());
    if (!options_.backoff) return give_up(over);
    state_ = State::backoff;
    log_event("backoff", over);
    // The timer holds no reference (that would be a cycle through
    // backoff_timer_); halt(), run by the destructor too, cancels it.
    backoff_timer_ = vat().after(*options_.backoff, [this] { resume_after_backoff(); });
    reason = over + "; restarts are paused (backoff), retry is safe";
  }
  // The group that goes down with the child: everyone (one_for_all) or those
  // started after it (rest_for_one).
  std::vector<Child*> also;
  std::size_t at = index_of(c);
  if (options_.strategy == Strategy::one_for_all || options_.strategy == Strategy::rest_for_one) {
    std::size_t from = options_.strategy == Strategy::one_for_all ? 0 : at + 1;
    for (std::size_t i = from; i < children_.size(); ++i)
      if (i != at && children_[i]->slot->state() != ChildSlot::State::stopped) also.push_back(children_[i].get());
  }
  c.slot->suspend(gone(reason));
  Ptr<Supervisor> self(this);
  std::string sibling_reason = fmt::format("{} with sibling {} of supervisor {}, retry is safe",
                                           state_ == State::backoff ? "paused" : "restarted", c.spec.id, options_.name);
  // Temporary siblings are never restarted: they leave with the group.
  std::string for_good =
      fmt::format("stopped with sibling {} of supervisor {}; not restarted (temporary)", c.spec.id, options_.name);
  stop_children(also, sibling_reason, for_good).then([self, at_id = c.spec.id, also_ids = ids_of(also), for_good] {
    for (const auto& id : also_ids) {
      Child* sib = self->find(id);
      if (sib && sib->spec.restart == Restart::temporary) {
        sib->slot->stop(gone(for_good));
        self->forget(*sib);
      }
    }
    if (self->state_ != State::running) return;  // a backoff's end restarts them
    // Restart in start order: the child and the siblings stopped for it.
    for (const auto& child : self->children_) {
      bool wanted = child->spec.id == at_id;
      for (const auto& id : also_ids) wanted = wanted || child->spec.id == id;
      if (wanted) self->restart_now(*child);
    }
  });
}

std::vector<std::string> Supervisor::ids_of(const std::vector<Child*>& which) {
  std::vector<std::string> out;
  out.reserve(which.size());
  for (Child* c : which) out.push_back(c->spec.id);
  return out;
}

bool Supervisor::note_restart() {
  TimePoint now = vat().clock().now();
  recent_restarts_.push_back(now);
  while (!recent_restarts_.empty() && recent_restarts_.front() < now - options_.period) recent_restarts_.pop_front();
  return recent_restarts_.size() <= static_cast<std::size_t>(options_.intensity);
}

void Supervisor::resume_after_backoff() {
  if (state_ != State::backoff) return;
  state_ = State::running;
  recent_restarts_.clear();
  log_event("resume", fmt::format("supervisor {} resumes restarts after backoff", options_.name));
  for (const auto& c : children_)
    if (c->slot->state() == ChildSlot::State::restarting) restart_now(*c);
}

void Supervisor::give_up(const std::string& why) {
  std::string reason = fmt::format("{}; supervisor {} gave up", why, options_.name);
  log_event("give_up", reason);
  halt(reason);
  state_ = State::failed;
  // Escalate: into the parent when this supervisor is a child, else to
  // whoever monitors it.
  if (detail::ObjectHooks* h = hooks(); h && h->incarnation) {
    detail::note_escape(h->incarnation.get(), std::make_exception_ptr(SupervisorGaveUp(reason)));
  } else {
    detail::break_monitors(*this, gone(reason));
  }
}

void Supervisor::halt(const std::string& why) {
  if (state_ == State::stopped || state_ == State::failed) return;
  state_ = State::stopped;
  backoff_timer_.cancel();
  // Last started first, as a stop would.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) (*it)->slot->stop(gone(why));
}

void Supervisor::forget(Child& c) {
  // Static children keep their record (which_children shows them stopped);
  // dynamic and temporary ones leave.
  if (!c.dynamic && c.spec.restart != Restart::temporary) return;
  std::erase_if(children_, [&](const std::unique_ptr<Child>& p) { return p.get() == &c; });
}

// --- Stopping.

Promise<void> Supervisor::stop_one(Child& c, const std::string& why) {
  ChildSlot& slot = *c.slot;
  if (slot.state() != ChildSlot::State::running) {
    slot.suspend(gone(why));
    return Promise<void>::resolved();
  }
  Object* o = slot.near_object();
  auto* graceful = dynamic_cast<Graceful*>(o);
  if (!graceful) {
    slot.suspend(gone(why));
    return Promise<void>::resolved();
  }
  slot.hold();
  Promise<void> done;
  try {
    done = with_timeout(graceful->shutdown(), c.spec.shutdown);
  } catch (...) {
    done = Promise<void>::resolved();
  }
  Ptr<ChildSlot> keep(c.slot);
  auto cut = [keep, why] { keep->suspend(gone(why)); };
  return done.then(cut, [cut](const Error&) { cut(); });
}

Promise<void> Supervisor::stop_children(std::vector<Child*> which, const std::string& why,
                                        const std::string& why_temporary) {
  if (which.empty()) return Promise<void>::resolved();
  // Last started first; the next stops once the one before is down.
  Promise<void> chain = Promise<void>::resolved();
  for (auto it = which.rbegin(); it != which.rend(); ++it) {
    Ptr<ChildSlot> slot = (*it)->slot;
    Ptr<Supervisor> self(this);
    const std::string& reason =
        (*it)->spec.restart == Restart::temporary && !why_temporary.empty() ? why_temporary : why;
    chain = chain.then([self, slot, reason]() -> Promise<void> {
      if (!slot->owner()) return Promise<void>::resolved();
      return self->stop_one(*slot->child(), reason);
    });
  }
  return chain;
}

Promise<void> Supervisor::terminate_child(std::string id) {
  Child* c = find(id);
  if (!c) throw_error(ErrorKind::failed, fmt::format("supervisor {} has no child {:?}", options_.name, id));
  std::string why = fmt::format("child {} of supervisor {} was terminated", id, options_.name);
  log_event("terminate", why);
  Ptr<Supervisor> self(this);
  Ptr<ChildSlot> slot = c->slot;
  return stop_one(*c, why).then([self, slot, why] {
    if (!slot->owner()) return;
    ChildRecord& rec = *slot->child();
    slot->stop(gone(why));
    self->forget(rec);
  });
}

Promise<void> Supervisor::restart_child(std::string id) {
  Child* c = find(id);
  if (!c) throw_error(ErrorKind::failed, fmt::format("supervisor {} has no child {:?}", options_.name, id));
  if (c->slot->state() == ChildSlot::State::stopped)
    throw_error(ErrorKind::failed, fmt::format("child {} of supervisor {} is stopped", id, options_.name));
  std::string why = fmt::format("child {} of supervisor {} was restarted by request, retry is safe", id, options_.name);
  log_event("restart_request", why);
  Ptr<Supervisor> self(this);
  Ptr<ChildSlot> slot = c->slot;
  return stop_one(*c, why).then([self, slot] {
    if (slot->owner()) self->restart_now(*slot->child());
  });
}

Promise<void> Supervisor::stop() {
  std::vector<Child*> all;
  for (const auto& c : children_) all.push_back(c.get());
  std::string why = fmt::format("supervisor {} stopped", options_.name);
  log_event("stop", why);
  Ptr<Supervisor> self(this);
  return stop_children(all, why).then([self, why] { self->halt(why); });
}

// --- Views.

std::vector<ChildInfo> Supervisor::which_children() const {
  std::vector<ChildInfo> out;
  for (const auto& c : children_) {
    std::string_view st = c->slot->state() == ChildSlot::State::running      ? "running"
                          : c->slot->state() == ChildSlot::State::restarting ? "restarting"
                                                                             : "stopped";
    Object* o = c->slot->near_object();
    out.push_back(ChildInfo{c->spec.id, std::string(to_string(c->spec.restart)), std::string(st), c->restarts,
                            c->incarnation, dynamic_cast<Supervisor*>(o) != nullptr});
  }
  return out;
}

Value Supervisor::describe() const {
  List kids;
  std::vector<ChildInfo> info = which_children();
  for (std::size_t i = 0; i < info.size(); ++i) {
    Record r{"child",
             {{"id", Value(info[i].id)},
              {"restart", Value(info[i].restart)},
              {"state", Value(info[i].state)},
              {"restarts", Value(info[i].restarts)},
              {"incarnation", Value(info[i].incarnation)}}};
    if (auto* sub = dynamic_cast<Supervisor*>(children_[i]->slot->near_object()))
      r.fields.emplace_back("supervisor", sub->describe());
    kids.push_back(Value(std::move(r)));
  }
  return Value(
      Record{"supervisor",
             {{"name", Value(options_.name)},
              {"strategy", Value(to_string(options_.strategy))},
              {"intensity", Value(options_.intensity)},
              {"period_ms", Value(std::chrono::duration_cast<std::chrono::milliseconds>(options_.period).count())},
              {"state", Value(state())},
              {"restarts", Value(total_restarts_)},
              {"children", Value(std::move(kids))}}});
}

void Supervisor::log_event(std::string_view what, const std::string& detail) {
  if (FlightRecorder* rec = vat().impl().recorder.get()) rec->event(options_.name, what, detail);
}

}  // namespace vatic
