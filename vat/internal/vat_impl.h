// VatImpl: the vat's private state. Everything here is touched only by the
// vat's own thread, except `core` (see vat_core.h) and `stop_requested`.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "vat/internal/far.h"
#include "vat/internal/vat_core.h"
#include "vat/promise_state.h"
#include "vat/recorder.h"
#include "vat/timer.h"
#include "vat/vat.h"

namespace vatic::detail {

class SupervisionLog;

struct TimerSlot {
  TimePoint due;
  std::uint64_t seq;
  Ptr<TimerState> state;
  bool operator>(const TimerSlot& o) const { return due != o.due ? due > o.due : seq > o.seq; }
};

// An object kept alive while one of its methods is still working (see
// Message::run). Linked into its vat so that release() can let go of objects
// that would otherwise keep themselves alive (an object holding the resolver
// of its own pending answer).
struct KeepAliveLink {
  KeepAliveLink* prev = nullptr;
  KeepAliveLink* next = nullptr;
  HandlerPtr held;
};

struct VatImpl final : Waker {
  VatImpl(Vat* self, VatOptions o);

  void wake() override;  // any thread: inbox has work

  // The loop.
  void ensure_drain();
  std::size_t drain_local(std::size_t budget);
  void drain_inbox();
  void run_turn(Turn* t) noexcept;

  // Timers.
  Timer add_timer(Duration first, Duration period, std::function<void()> f);
  bool fire_due_timers();
  void arm_timer();

  // Questions: calls sent to other vats, waiting for their answers.
  std::uint32_t add_question(Ptr<PromiseBase> q);
  void settle_question(std::uint32_t slot, bool ok, const Value& v, const Error& e);

  Vat* self;
  std::string name;
  Clock* clock;
  std::size_t batch;
  Duration spin;
  boost::asio::io_context io;
  boost::asio::steady_timer asio_timer{io};
  std::shared_ptr<VatCore> core;
  TurnQueue local;
  bool drain_posted = false;
  bool releasing = false;
  bool released = false;
  std::atomic<bool> stop_requested{false};
  std::atomic<std::thread::id> loop_thread{};  // set while run() is active

  std::uint64_t turns_run = 0;
  std::uint64_t turn_failures = 0;
  std::size_t live_objects = 0;

  KeepAliveLink kept;  // sentinel of a circular list

  // Null while recording is off (the delivery fast path tests it).
  std::unique_ptr<FlightRecorder> recorder;
  // The vat's supervisors and crash log (vat/supervise), made on first use.
  std::shared_ptr<SupervisionLog> supervision;

  std::vector<Ptr<PromiseBase>> questions;
  std::vector<std::uint32_t> free_questions;
  std::size_t pending_questions = 0;

  std::priority_queue<TimerSlot, std::vector<TimerSlot>, std::greater<>> timers;
  std::uint64_t timer_seq = 0;
  TimePoint armed_for = TimePoint::max();
};

}  // namespace vatic::detail
