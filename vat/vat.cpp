#include "vat/vat.h"

#include <fmt/format.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "vat/internal/vat_impl.h"
#include "vat/output_gate.h"

namespace vatic {

namespace detail {

namespace {
thread_local Vat* t_current = nullptr;

class CurrentScope {
 public:
  explicit CurrentScope(Vat* v) noexcept : prev_(t_current) { t_current = v; }
  ~CurrentScope() { t_current = prev_; }

 private:
  Vat* prev_;
};

class TimerTurn final : public Turn {
 public:
  explicit TimerTurn(Ptr<TimerState> s) : s_(std::move(s)) {}
  void run() override {
    if (s_->cancelled || !s_->fn) return;
    auto f = s_->fn;                                    // the callback may cancel (and clear) its own timer
    if (s_->period.count() == 0) s_->cancelled = true;  // one-shot: done
    f();
  }

 private:
  Ptr<TimerState> s_;
};

// Frees a recorder switched off during a turn, once that turn is over (the
// delivery running it still ends its entry).
class DropRecorder final : public Turn {
 public:
  explicit DropRecorder(std::unique_ptr<FlightRecorder> r) : r_(std::move(r)) {}
  void run() override {}

 private:
  std::unique_ptr<FlightRecorder> r_;
};

// Turns a drain may run after stop() before giving up on a vat that keeps
// feeding itself.
constexpr std::size_t kStopDrainLimit = 1'000'000;
}  // namespace

Vat* current_vat() noexcept { return t_current; }

// The current call (vat/cancel.h) and, when it is gated, the same call
// (vat/output_gate.h): kept here with t_current so that a send reads both
// with one call (send_context).
namespace {
thread_local PromiseBase* t_call = nullptr;
thread_local PromiseBase* t_gated = nullptr;

OutputGate* gate_of(PromiseBase& call) { return output_gate_of(call); }
}  // namespace

PromiseBase* current_call() noexcept { return t_call; }
PromiseBase* gated_call() noexcept { return t_gated; }
SendContext send_context() noexcept { return SendContext{t_current, t_gated}; }

CallScope::CallScope(PromiseBase* call) noexcept : prev_(t_call), prev_gated_(t_gated) {
  t_call = call;
  t_gated = call && call->output_gated() ? call : nullptr;
}

CallScope::~CallScope() {
  PromiseBase* gated = t_gated;
  t_call = prev_;
  t_gated = prev_gated_;
  // The last turn of this call on the stack ends and the call goes on (a
  // Task awaits): what it sent leaves now, as it may be what it awaits.
  if (gated && gated != prev_gated_ && gated->pending()) [[unlikely]]
    if (OutputGate* g = gate_of(*gated)) g->turn_ended(*gated);
}

void set_output_gate(PromiseBase& call, OutputGate* gate) { call.gate_ = gate; }

void clear_output_gate(PromiseBase& call) noexcept { call.gate_ = nullptr; }

OutputGate* output_gate_of(const PromiseBase& call) noexcept { return call.gate_; }

void hold_effect(PromiseBase& call, std::unique_ptr<HeldEffect> e) {
  if (OutputGate* g = gate_of(call)) return g->hold(call, std::move(e));
  e->release();
}

namespace {
class HeldSend final : public HeldEffect {
 public:
  HeldSend(HandlerPtr target, MessagePtr m) : target_(std::move(target)), m_(std::move(m)) {}
  void release() override { target_->deliver(std::move(m_)); }
  void discard(const Error& why) noexcept override { break_message(std::move(m_), why); }

 private:
  HandlerPtr target_;
  MessagePtr m_;
};
}  // namespace

void hold_send(PromiseBase& call, Handler& target, MessagePtr m) {
  if (OutputGate* g = gate_of(call))
    return g->hold(call, std::make_unique<HeldSend>(HandlerPtr(&target), std::move(m)));
  target.deliver(std::move(m));
}

void schedule(Vat* v, Turn* t) {
  VatImpl& im = v->impl();
  if (im.releasing) {
    delete t;
    return;
  }
  im.local.push(t);
  im.ensure_drain();
}

Error abandoned_error(Vat* v) {
  if (v && v->impl().releasing) return Error{ErrorKind::disconnected, fmt::format("vat {} stopped", v->name())};
  return Error{ErrorKind::failed, "promise dropped without being resolved"};
}

Vat* require_current_vat(const char* what) {
  if (!t_current) throw std::logic_error(fmt::format("{} must start inside a turn of some vat", what));
  return t_current;
}

void object_born(Vat& v) noexcept { ++v.impl().live_objects; }
void object_died(Vat& v) noexcept { --v.impl().live_objects; }

void Turn::arrive() { schedule(current_vat(), this); }

VatImpl::VatImpl(Vat* s, VatOptions o)
    : self(s),
      name(std::move(o.name)),
      clock(o.clock ? o.clock : &steady_clock()),
      batch(o.turns_per_batch ? o.turns_per_batch : 1),
      spin(o.spin_before_block),
      core(std::make_shared<VatCore>(name)) {
  core->set_waker(this);
  kept.prev = kept.next = &kept;
  if (o.recorder.enabled) recorder = std::make_unique<FlightRecorder>(o.recorder, clock, name);
}

void VatImpl::wake() {
  boost::asio::post(io, [this] { drain_inbox(); });
}

void VatImpl::ensure_drain() {
  if (drain_posted) return;
  drain_posted = true;
  boost::asio::post(io, [this] {
    drain_posted = false;
    drain_local(batch);
    if (!local.empty()) ensure_drain();
  });
}

void VatImpl::run_turn(Turn* t) noexcept {
  try {
    t->run();
  } catch (...) {
    ++turn_failures;
  }
  ++turns_run;
  delete t;
}

std::size_t VatImpl::drain_local(std::size_t budget) {
  CurrentScope scope(self);
  std::size_t n = 0;
  while (n < budget) {
    Turn* t = local.pop();
    if (!t) break;
    run_turn(t);
    ++n;
  }
  return n;
}

void VatImpl::drain_inbox() {
  CurrentScope scope(self);
  TurnQueue arrived;
  core->take(arrived);
  while (Turn* t = arrived.pop()) {
    if (releasing) {
      delete t;
      continue;
    }
    try {
      t->arrive();
    } catch (...) {
      ++turn_failures;
    }
  }
}

Timer VatImpl::add_timer(Duration first, Duration period, std::function<void()> f) {
  auto s = make_ptr<TimerState>();
  s->fn = std::move(f);
  s->period = period;
  s->due = clock->now() + first;
  timers.push(TimerSlot{s->due, timer_seq++, s});
  arm_timer();
  return Timer(s);
}

bool VatImpl::fire_due_timers() {
  bool fired = false;
  TimePoint now = clock->now();
  while (!timers.empty() && timers.top().due <= now) {
    TimerSlot slot = timers.top();
    timers.pop();
    if (slot.state->cancelled) continue;
    if (slot.state->period.count() > 0) {
      // Fell behind: skip the missed ticks (one firing now), keep the phase.
      Duration period = slot.state->period;
      slot.state->due = slot.due + period * ((now - slot.due) / period + 1);
      timers.push(TimerSlot{slot.state->due, timer_seq++, slot.state});
    }
    schedule(self, new TimerTurn(slot.state));
    fired = true;
  }
  return fired;
}

void VatImpl::arm_timer() {
  while (!timers.empty() && timers.top().state->cancelled) timers.pop();
  if (clock->manual() || timers.empty() || releasing) return;
  TimePoint due = timers.top().due;
  if (due >= armed_for) return;
  armed_for = due;
  asio_timer.expires_at(std::chrono::steady_clock::time_point(due.time_since_epoch()));
  asio_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed or cancelled
    armed_for = TimePoint::max();
    fire_due_timers();
    arm_timer();
  });
}

std::uint32_t VatImpl::add_question(Ptr<PromiseBase> q) {
  ++pending_questions;
  if (!free_questions.empty()) {
    std::uint32_t slot = free_questions.back();
    free_questions.pop_back();
    questions[slot] = std::move(q);
    return slot;
  }
  questions.push_back(std::move(q));
  return static_cast<std::uint32_t>(questions.size() - 1);
}

void VatImpl::settle_question(std::uint32_t slot, bool ok, const Value& v, const Error& e) {
  if (slot >= questions.size() || !questions[slot]) return;
  Ptr<PromiseBase> q = std::move(questions[slot]);
  free_questions.push_back(slot);
  --pending_questions;
  if (ok)
    q->settle_from_value(v);
  else
    q->break_with(e);
}

}  // namespace detail

Vat::Vat(VatOptions options)
    : recorder_options_(options.recorder),
      log_sink_(std::move(options.log.sink)),
      log_min_(log_sink_ ? options.log.min_level : LogLevel::off),
      impl_(std::make_unique<detail::VatImpl>(this, std::move(options))) {}

Vat::~Vat() { release(); }

const std::string& Vat::name() const noexcept { return impl_->name; }

void Vat::run() {
  detail::CurrentScope scope(this);
  impl_->loop_thread = std::this_thread::get_id();
  auto guard = boost::asio::make_work_guard(impl_->io);
  auto& io = impl_->io;
  io.restart();
  while (!io.stopped()) {
    if (io.poll() > 0) continue;
    // Idle: poll a little longer before blocking. Yielding (not pausing)
    // between polls lets a vat that shares this CPU run and answer.
    // The spin is measured on the process's real clock, not the vat's: it
    // bounds CPU time burnt, and a manual clock would never end it.
    bool woke = false;
    const Clock& real = steady_clock();
    for (auto until = real.now() + impl_->spin; !woke && !io.stopped() && real.now() < until;) {
      std::this_thread::yield();
      woke = io.poll() > 0;
    }
    if (!woke) io.run_one();
  }
  impl_->loop_thread = std::thread::id{};
}

void Vat::check_own_thread(const char* what) const {
  Vat* cur = detail::current_vat();
  if (cur == this || (!cur && !runs_elsewhere())) return;
  throw_error(ErrorKind::failed, fmt::format("vat {}: {}() called from {}; run it in the vat with submit() or post()",
                                             name(), what, cur ? "vat " + cur->name() : std::string("another thread")));
}

bool Vat::runs_elsewhere() const noexcept {
  std::thread::id t = impl_->loop_thread.load(std::memory_order_relaxed);
  return t != std::thread::id{} && t != std::this_thread::get_id();
}

std::size_t Vat::run_until_idle(std::size_t max_turns) {
  auto& im = *impl_;
  detail::CurrentScope scope(this);
  std::size_t before = im.turns_run;
  for (;;) {
    if (im.io.stopped()) im.io.restart();
    std::size_t handlers = im.io.poll();
    bool fired = im.clock->manual() && im.fire_due_timers();
    if (handlers == 0 && !fired && im.local.empty()) break;
    if (im.turns_run - before >= max_turns) break;
  }
  return im.turns_run - before;
}

void Vat::wait_until(const std::function<bool()>& done) {
  auto& im = *impl_;
  while (!done()) {
    run_until_idle();
    if (done()) return;
    if (im.clock->manual() || im.releasing)
      throw_error(ErrorKind::failed, fmt::format("vat {}: waiting on a promise that nothing left can settle", name()));
    // Block for I/O, cross-thread work or the next timer.
    detail::CurrentScope scope(this);
    if (im.io.stopped()) im.io.restart();
    auto guard = boost::asio::make_work_guard(im.io);
    im.io.run_one_for(std::chrono::milliseconds(50));
  }
}

void Vat::stop() {
  auto& im = *impl_;
  if (im.stop_requested.exchange(true)) return;
  im.core->close();
  boost::asio::post(im.io, [this] {
    auto& im = *impl_;
    // Drain: what arrived before the gate closed, and what it causes here.
    std::size_t ran = 0;
    im.drain_inbox();
    while (!im.local.empty() && ran < detail::kStopDrainLimit) ran += im.drain_local(im.batch);
    // Pending timers are dropped by release(), where what they hold breaks as `disconnected`.
    im.asio_timer.cancel();
    im.io.stop();
  });
}

bool Vat::stopping() const noexcept { return impl_->stop_requested.load(); }

bool Vat::post_turn(detail::Turn* t) {
  if (impl_->core->push(t)) return true;
  delete t;
  return false;
}

void Vat::release() {
  auto& im = *impl_;
  if (im.released) return;
  im.stop_requested = true;
  im.core->close();
  detail::CurrentScope scope(this);
  im.releasing = true;
  im.timers = {};
  im.asio_timer.cancel();
  for (int round = 0; round < 64; ++round) {
    detail::TurnQueue inbox;
    std::vector<detail::HandlerHold> targets;
    im.core->release(inbox, targets);
    im.core->wait_for_wakes();
    inbox.clear();
    im.local.clear();
    for (detail::KeepAliveLink* l = im.kept.next; l != &im.kept; l = l->next)
      if (l->held) targets.push_back(detail::HandlerHold{std::move(l->held)});
    targets.clear();
    auto questions = std::move(im.questions);
    im.questions.clear();
    im.free_questions.clear();
    im.pending_questions = 0;
    for (auto& q : questions)
      if (q) q->break_with(Error{ErrorKind::disconnected, fmt::format("vat {} stopped", im.name)});
    questions.clear();
    if (im.local.empty() && im.questions.empty()) break;
  }
  im.released = true;
}

Timer Vat::after(Duration d, std::function<void()> f) { return impl_->add_timer(d, Duration{0}, std::move(f)); }

Timer Vat::every(Duration period, std::function<void()> f) {
  if (period.count() <= 0) throw_error(ErrorKind::failed, "vat.every needs a positive period");
  return impl_->add_timer(period, period, std::move(f));
}

Promise<void> Vat::sleep(Duration d) {
  auto s = detail::new_state<void>(this);
  auto shared = std::make_shared<Resolver<void>>(s);
  after(d, [shared] { shared->resolve(); });
  return Promise<void>(std::move(s));
}

boost::asio::io_context& Vat::io() noexcept { return impl_->io; }
Clock& Vat::clock() const noexcept { return *impl_->clock; }

VatStats Vat::stats() const noexcept {
  const auto& im = *impl_;
  return VatStats{im.turns_run,    im.turn_failures,     im.live_objects,
                  im.local.size(), im.pending_questions, im.timers.size()};
}

std::size_t Vat::live_objects() const noexcept { return impl_->live_objects; }

void Vat::set_recording(bool on) {
  check_own_thread("set_recording");
  auto& im = *impl_;
  if (on) {
    if (!im.recorder) im.recorder = std::make_unique<FlightRecorder>(recorder_options_, im.clock, im.name);
    return;
  }
  std::unique_ptr<FlightRecorder> old = std::move(im.recorder);
  if (old && detail::current_vat() == this) detail::schedule(this, new detail::DropRecorder(std::move(old)));
}

FlightRecorder* Vat::recorder() noexcept { return impl_->recorder.get(); }

void Vat::set_log_sink(LogSink sink, LogLevel min_level) {
  check_own_thread("set_log_sink");
  log_sink_ = std::move(sink);
  log_min_ = log_sink_ ? min_level : LogLevel::off;
}

void Vat::log(const LogEvent& e) const noexcept {
  if (!log_enabled(e.level) || e.level == LogLevel::off) return;
  try {
    log_sink_(e);
  } catch (...) {
    // log.h: the event is lost, the work that logged it goes on.
  }
}

}  // namespace vatic
