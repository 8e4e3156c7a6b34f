// Channel deadlines on the vat's clock (captp/internal/net/alarm.h): two vats
// share one ManualClock and nothing else moves time, so a deadline passes
// exactly when the test advances the clock past it, never by itself.
//
//   vat a (Node, idle 30 s) ==memory pipe== vat b (Node, idle off: never pings)
#include "captp/internal/net/alarm.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "captp_objects.h"

namespace vatic::test {
namespace {

using namespace std::chrono_literals;

// run_until_idle() counts turns, and a handshake message crossing the pipe is
// I/O without a turn: a round of both vats that ran no turn may still have
// passed bytes on. A run of quiet rounds longer than any turnless chain
// (three handshake messages, each one hop per round) means nothing is left.
void run_both(Vat& a, Vat& b) {
  for (int quiet = 0; quiet < 8;) quiet = a.run_until_idle() + b.run_until_idle() > 0 ? 0 : quiet + 1;
}

// The clock is a base, so that it is made before the vats that read it.
struct WithManualClock {
  ManualClock clock;
};

struct ManualPair : WithManualClock, TwoVats {
  ManualPair(Duration a_idle, Duration b_idle) : TwoVats(idle(a_idle), idle(b_idle), &clock) {}
  ~ManualPair() {
    a.reset();
    b.reset();
    run();
  }
  static captp::NodeOptions idle(Duration d) {
    captp::NodeOptions o;
    o.channel.idle_timeout = d;
    return o;
  }
  Ref<Echo> connect() { return connect_pipe(); }
  // Both loops until neither has anything to do at this instant.
  void run() { run_both(va, vb); }
  // Moves time in steps (so the pings due on the way go out) and runs.
  void advance(Duration d, Duration step = 1s) {
    for (Duration done{0}; done < d;) {
      Duration s = std::min(step, d - done);
      clock.advance(s);
      done += s;
      run();
    }
  }
};

TEST(Alarm, IdleDeadlineFiresOnlyWhenTheManualClockPassesIt) {
  ManualPair t(30s, Duration::zero());
  Ref<Echo> b = t.connect();
  auto answered = b.send<&Echo::echo>(7);
  t.run();
  ASSERT_FALSE(answered.pending()) << "the handshake and a call need no time";
  EXPECT_EQ(answered.value(), 7);
  // Last heard from b at time 0. A question b never answers shows when the
  // session ends, and why.
  auto waiting = b.send<&Echo::later>();
  t.run();
  ASSERT_TRUE(waiting.pending());

  // However long the loops run, no deadline passes while the clock stands.
  for (int i = 0; i < 100; ++i) t.run();
  EXPECT_EQ(t.a->stats().sessions, 1u);

  // Up to just before the deadline: a pings b (every 10 s), b stays silent.
  t.advance(30s - 1ms);
  EXPECT_TRUE(waiting.pending());
  EXPECT_EQ(t.a->stats().sessions, 1u);

  t.advance(1ms);
  ASSERT_FALSE(waiting.pending()) << "the idle deadline did not fire at 30 s";
  ASSERT_TRUE(waiting.is_broken());
  EXPECT_EQ(waiting.error().kind, ErrorKind::disconnected);
  EXPECT_NE(waiting.error().reason.find("idle deadline of 30000 ms exceeded"), std::string::npos)
      << waiting.error().reason;
  EXPECT_EQ(t.a->stats().sessions, 0u);
}

TEST(Alarm, PingsOnTheManualClockKeepAnIdleSessionAlive) {
  // Both sides ping every 10 s: neither deadline passes, however far time goes.
  ManualPair t(30s, 30s);
  Ref<Echo> b = t.connect();
  auto waiting = b.send<&Echo::later>();
  t.run();
  t.advance(5min);
  EXPECT_TRUE(waiting.pending());
  EXPECT_EQ(t.a->stats().sessions, 1u);
  EXPECT_EQ(t.b->stats().sessions, 1u);
}

TEST(Alarm, HandshakeDeadlineFollowsTheVatClock) {
  // b never answers: its end of the pipe is accepted by no one.
  ManualClock clock;
  Vat va{VatOptions{.name = "a", .clock = &clock, .spin_before_block = Duration::zero()}};
  Vat vb{VatOptions{.name = "b", .clock = &clock, .spin_before_block = Duration::zero()}};
  captp::NodeOptions o;
  o.channel.handshake_timeout = 10s;
  captp::Node a(va, captp::Identity::generate(), o);
  auto [ea, eb] = captp::memory_pipe(va.io(), vb.io());
  auto ref = a.connect<Echo>(captp::Identity::generate().id(), std::move(ea));
  auto call = ref.send<&Echo::echo>(1);
  auto run = [&] { run_both(va, vb); };
  run();
  clock.advance(10s - 1ns);
  run();
  EXPECT_TRUE(call.pending());
  clock.advance(1ns);
  run();
  ASSERT_TRUE(call.is_broken());
  EXPECT_NE(call.error().reason.find("handshake deadline of 10000 ms exceeded"), std::string::npos)
      << call.error().reason;
}

}  // namespace
}  // namespace vatic::test
