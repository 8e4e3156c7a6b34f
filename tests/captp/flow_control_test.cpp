// Flow control of calls from the peer (captp/internal/flow_control.cpp,
// spec/captp.md section 7): past `max_answers` unanswered calls, further calls
// wait unread-to-their-target while every other message is still read, so
// that no pattern of calls between two honest vats can stop both for good.
//
//   a (Node, test thread) --memory pipe-- b (Node, Echo bootstrap, test thread)
#include "captp/internal/session.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

using namespace std::chrono_literals;

std::size_t settled_prefix(const std::vector<Promise<std::int64_t>>& calls, std::size_t from) {
  while (from < calls.size() && !calls[from].pending()) ++from;
  return from;
}

// 16 500 calls from a, each answered by b only once a answers b's call back:
// b holds the calls past max_answers (16 384) and must still read a's
// returns. (Reading used to pause for every message at max_answers, with the
// idle deadline suspended: both vats hung for good.)
TEST(FlowControl, CallsAwaitingCallbacksPastMaxAnswersAllComplete) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  Ref<Echo> mine = t.va.make<Echo>();
  std::vector<Promise<std::int64_t>> calls;
  for (int i = 0; i < 16500; ++i) calls.push_back(b.send<&Echo::call_back>(mine, i));
  std::size_t done = 0;
  EXPECT_TRUE(t.run_until([&] { return (done = settled_prefix(calls, done)) == calls.size(); }, 60s))
      << done << " of " << calls.size() << " calls answered";
  for (std::size_t i = 0; i < done; ++i) EXPECT_EQ(t.get(calls[i]), static_cast<std::int64_t>(i));
}

// Calls past max_answers (up to twice it) are delivered when read, in the
// order sent: nothing is held back, so nothing can overtake them.
TEST(FlowControl, CallsPastMaxAnswersAreDeliveredInOrder) {
  captp::NodeOptions o;
  o.session.max_answers = 4;
  TwoVats t(o);
  Ref<Echo> b = t.connect_pipe();
  Ref<Echo> mine = t.va.make<Echo>();
  std::vector<Promise<std::int64_t>> calls;
  for (int i = 0; i < 4; ++i) {  // 8 calls: all delivered
    calls.push_back(b.send<&Echo::call_back>(mine, i));
    calls.push_back(b.send<&Echo::order>(i));
  }
  for (auto& c : calls) t.get(c);
  std::vector<std::int64_t> want{0, 1, 2, 3};
  EXPECT_EQ(t.get(b.send<&Echo::seen>()), want);
}

// Memory stays bounded against a peer that never stops calling: past twice
// max_answers unanswered calls, a call is answered `overloaded` at once, and
// the session goes on.
TEST(FlowControl, CallsPastTwiceMaxAnswersAreRefusedOverloaded) {
  captp::NodeOptions o;
  o.session.max_answers = 4;
  TwoVats t(o);
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);
  std::vector<Promise<std::int64_t>> waiting;
  for (int i = 0; i < 12; ++i) waiting.push_back(b.send<&Echo::hang>());
  int refused = 0;
  for (int i = 8; i < 12; ++i) {
    Error e = t.error_of(waiting[i]);
    refused += e.kind == ErrorKind::overloaded;
  }
  EXPECT_EQ(refused, 4);
  t.drain();
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(waiting[i].pending()) << i;
  EXPECT_EQ(t.b->sessions()[0].stats.answers, 8u + 4u);  // the refused ones until a's finish
  ASSERT_EQ(t.a->sessions().size(), 1u);
}

}  // namespace
}  // namespace vatic::test
