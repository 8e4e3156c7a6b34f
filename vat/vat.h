// Vat: one event loop (a boost::asio::io_context run by one thread) and the
// objects it owns. Each delivered message is one turn, run to completion; an
// exception escaping a turn breaks that turn's result and never stops the vat.
//
// Threads: everything here belongs to the vat's thread, except `post`, `submit`
// and `stop`, which any thread may call. A standalone Vat is driven by whoever
// calls `run`, `run_until_idle` or `wait`; a VatGroup gives each vat a thread.
//
// Shutdown is a gate (as Seastar's): `stop()` refuses new work from other vats,
// the loop drains what it has, and `release()` (also run by the destructor)
// breaks what is still waiting with `disconnected` and frees the objects.
#pragma once

#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "vat/clock.h"
#include "vat/error.h"
#include "vat/handler.h"
#include "vat/internal/method_traits.h"
#include "vat/log.h"
#include "vat/object.h"
#include "vat/promise.h"
#include "vat/recorder.h"
#include "vat/ref.h"
#include "vat/timer.h"

namespace boost::asio {
class io_context;
}

namespace vatic {

struct VatOptions {
  std::string name = "vat";
  Clock* clock = nullptr;  // default: steady_clock()
  // Turns run per loop iteration before I/O handlers get a chance.
  std::size_t turns_per_batch = 256;
  // How long run() keeps polling (yielding the CPU between polls) before it
  // blocks. Waking a blocked thread on another CPU costs tens of microseconds
  // on a VM; an answer that comes back within the spin needs no wake-up at all.
  // Zero blocks at once.
  Duration spin_before_block = std::chrono::microseconds(50);
  // The flight recorder (recorder.h): on by default, keeping every delivery
  // from another vat or peer and a sample of local ones.
  RecorderOptions recorder;
  // Where the libraries' log events go (log.h); no sink: nowhere.
  LogOptions log;
};

struct VatStats {
  std::uint64_t turns_run = 0;
  std::uint64_t turn_failures = 0;  // exceptions escaping turns that had no promise to break
  std::size_t live_objects = 0;
  std::size_t queued_turns = 0;
  std::size_t pending_questions = 0;  // calls into other vats awaiting their answer
  std::size_t timers = 0;
};

namespace detail {
class VatCore;
struct VatImpl;

template <class F>
class FnTurn final : public CrossThreadTurn {
 public:
  explicit FnTurn(F f) : f_(std::move(f)) {}
  void run() override { f_(); }

 private:
  F f_;
};

// Scopes the vat that Object's constructor registers with (see Vat::make).
class Constructing {
 public:
  explicit Constructing(Vat* v) noexcept;
  ~Constructing();

 private:
  Vat* prev_;
};

// Feeds a promise's outcome to a std::promise; breaks it if the vat goes away.
template <class X>
class FutureBridge final : public Listener {
 public:
  bool runs_as_turn() const noexcept override { return true; }
  FutureBridge(Ptr<PromiseState<Slot<X>>> s, std::shared_ptr<std::promise<X>> out)
      : s_(std::move(s)), out_(std::move(out)) {}
  ~FutureBridge() override {
    if (out_) out_->set_exception(std::make_exception_ptr(VatError(ErrorKind::disconnected, "vat stopped")));
  }
  void run() override {
    auto out = std::move(out_);
    if (s_->status() == PromiseBase::Status::broken)
      return out->set_exception(std::make_exception_ptr(VatError(s_->error())));
    if constexpr (std::is_void_v<X>)
      out->set_value();
    else
      out->set_value(s_->value());
  }

 private:
  Ptr<PromiseState<Slot<X>>> s_;
  std::shared_ptr<std::promise<X>> out_;
};
// Settles `out` as the promise it listens to settles, while `out` is pending.
class CopyWhileWanted final : public Listener {
 public:
  explicit CopyWhileWanted(Ptr<PromiseBase> out) : out_(std::move(out)) {}
  bool wanted() const noexcept override { return out_->pending(); }
  void settled(PromiseBase& p) override {
    if (out_->pending()) out_->copy_outcome_from_public(p);
  }
  void run() override {}

 private:
  Ptr<PromiseBase> out_;
};
// Cancels a timer (dropping what its callback holds) when a promise settles.
class CancelTimer final : public Listener {
 public:
  explicit CancelTimer(Timer t) : t_(std::move(t)) {}
  void settled(PromiseBase&) override { t_.cancel(); }
  void run() override {}

 private:
  Timer t_;
};
}  // namespace detail

class Vat {
 public:
  explicit Vat(VatOptions options = {});
  Vat(const Vat&) = delete;
  Vat& operator=(const Vat&) = delete;
  ~Vat();

  const std::string& name() const noexcept;

  // The vat whose turn is running on this thread, or null.
  static Vat* current() noexcept { return detail::current_vat(); }

  // Makes an object owned by this vat and returns the first reference to it.
  template <class T, class... A>
  Ref<T> make(A&&... args) {
    static_assert(std::is_base_of_v<Object, T>, "vat.make<T>: T must derive from vatic::Object");
    check_own_thread("make");
    detail::Constructing scope(this);
    return detail::RefAccess::make<T>(detail::HandlerPtr(new T(std::forward<A>(args)...)));
  }

  // --- Driving the loop (the vat's thread).
  // Runs until stop(); the calling thread becomes the vat's thread.
  void run();
  // Runs queued turns, ready I/O handlers and due timers until none is left,
  // or until about `max_turns` turns ran (a test harness's bound on a
  // livelock); returns how many turns ran. Never blocks.
  std::size_t run_until_idle(std::size_t max_turns = static_cast<std::size_t>(-1));
  // Drives the loop until `p` settles; returns its value or throws its Error.
  // Throws `failed` if nothing left could ever settle it.
  template <class T>
  T wait(Promise<T> p) {
    wait_until([&p] { return !p.pending(); });
    if (p.is_broken()) throw VatError(p.error());
    if constexpr (!std::is_void_v<T>) return p.value();
  }

  // --- Any thread.
  // Refuses new work from outside, lets the loop drain, then makes run() return.
  void stop();
  bool stopping() const noexcept;
  // Whether run() is active on a thread other than the caller's.
  bool runs_elsewhere() const noexcept;
  // Runs f as a turn of this vat. False if the vat no longer takes work.
  template <class F>
  bool post(F f) {
    return post_turn(new detail::FnTurn<F>(std::move(f)));
  }
  // Runs f as a turn and hands its result (or the settled value of the promise
  // it returns) to a std::future, for threads outside any vat.
  template <class F>
  auto submit(F f);

  // --- Timers (the vat's thread).
  Timer after(Duration d, std::function<void()> f);
  Timer every(Duration period, std::function<void()> f);
  Promise<void> sleep(Duration d);

  // Breaks everything still waiting with `disconnected` and frees the vat's
  // objects. Called by the destructor; call it yourself after the vat's thread
  // ended to break far references into this vat early.
  void release();

  boost::asio::io_context& io() noexcept;
  Clock& clock() const noexcept;
  VatStats stats() const noexcept;
  std::size_t live_objects() const noexcept;

  // --- The flight recorder (the vat's thread).
  // Switching off frees the ring and the method statistics (after the current
  // turn, which may still be recording its own delivery); switching on starts
  // both afresh, with VatOptions::recorder's capacity.
  void set_recording(bool on);
  // Null while recording is off.
  FlightRecorder* recorder() noexcept;

  // --- Logging (log.h; the vat's thread).
  // Replaces the sink and its least level (a null sink: no events).
  void set_log_sink(LogSink sink, LogLevel min_level = LogLevel::info);
  // Whether an event at `level` would reach a sink: what a library asks
  // before it builds the event's text.
  bool log_enabled(LogLevel level) const noexcept { return level >= log_min_; }
  // Hands `e` to the sink if its level is enabled. An exception from the sink
  // is swallowed: logging never breaks the work that logs.
  void log(const LogEvent& e) const noexcept;

  detail::VatImpl& impl() noexcept { return *impl_; }

 private:
  // Throws unless the caller is this vat's turn, or no turn of any vat and the
  // vat does not run on another thread.
  void check_own_thread(const char* what) const;
  void wait_until(const std::function<bool()>& done);
  bool post_turn(detail::Turn* t);

  RecorderOptions recorder_options_;
  // Before impl_: events logged while the vat releases its objects (a
  // session closing) still find the sink.
  LogSink log_sink_;
  LogLevel log_min_ = LogLevel::off;  // `off` while there is no sink
  std::unique_ptr<detail::VatImpl> impl_;
};

template <class F>
auto Vat::submit(F f) {
  using R = std::invoke_result_t<F&>;
  using X = typename detail::Unwrap<R>::type;
  auto out = std::make_shared<std::promise<X>>();
  auto fut = out->get_future();
  bool ok = post([out, f = std::move(f)]() mutable {
    try {
      if constexpr (detail::Unwrap<R>::eventual) {
        Promise<X> p = f();
        p.state()->listen(std::make_unique<detail::FutureBridge<X>>(p.state(), out));
      } else if constexpr (std::is_void_v<R>) {
        f();
        out->set_value();
      } else {
        out->set_value(f());
      }
    } catch (...) {
      out->set_exception(std::current_exception());
    }
  });
  if (!ok) out->set_exception(std::make_exception_ptr(VatError(ErrorKind::disconnected, "vat stopped")));
  return fut;
}

// Breaks `p` with `overloaded` unless it settles within `d` (timed by the
// current vat, which must own `p`).
template <class T>
Promise<T> with_timeout(Promise<T> p, Duration d) {
  auto out = detail::new_state<T>(p.state()->home());
  // Not `follow`: past the deadline `p` is no longer wanted through `out`, so
  // a call only this waited on can be cancelled.
  p.state()->listen(std::make_unique<detail::CopyWhileWanted>(out));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  Timer t = out->home()->after(d, [out, ms] {
    out->break_with(Error{ErrorKind::overloaded, "deadline of " + std::to_string(ms) + " ms exceeded"});
  });
  out->listen(std::make_unique<detail::CancelTimer>(std::move(t)));
  return Promise<T>(std::move(out));
}

}  // namespace vatic
