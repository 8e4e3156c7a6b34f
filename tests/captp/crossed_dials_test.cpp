// Crossed dials (spec/captp.md section 9): vats lo and hi (lo has the smaller
// vat id) dial each other at once, each over a memory pipe of its own, and
// each accepts the other's dial:
//
//   lo --pipe 1 (lo dials)--> hi        S1: dialed by lo, kept by both
//   lo <--pipe 2 (hi dials)-- hi        S2: dialed by hi, retired, closed by hi
//                                           once nothing made through it is held
//
// Everything runs on the test thread, the loops in rounds, so both handshakes
// complete before either node reads the other's session. Which loop runs
// first and how many rounds one dial starts after the other vary the
// interleaving. The connect() references of both sides must keep answering,
// in order, exactly once, and no session may end with anything but the
// crossed-connection close.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "captp/memory_pipe.h"
#include "captp/node.h"
#include "tests/captp/captp_objects.h"
#include "vat/vatic.h"

namespace vatic::test {
namespace {

struct Crossed {
  Vat vlo{TwoVats::vat_options("lo", nullptr)}, vhi{TwoVats::vat_options("hi", nullptr)};
  std::unique_ptr<captp::Node> lo, hi;
  Ref<Echo> lo_obj, hi_obj;         // the bootstrap objects
  Ref<Echo> to_hi, to_lo;           // lo's and hi's connect() references
  std::vector<std::string> closes;  // session.closed reasons, both vats
  bool lo_first = true;

  Crossed() {
    captp::Identity i1 = captp::Identity::generate(), i2 = captp::Identity::generate();
    bool swap = i2.id() < i1.id();
    lo = std::make_unique<captp::Node>(vlo, swap ? std::move(i2) : std::move(i1));
    hi = std::make_unique<captp::Node>(vhi, swap ? std::move(i1) : std::move(i2));
    lo_obj = vlo.make<Echo>(1);
    hi_obj = vhi.make<Echo>(2);
    lo->set_bootstrap(lo_obj);
    hi->set_bootstrap(hi_obj);
    auto sink = [this](const LogEvent& e) {
      if (e.event == "session.closed") closes.push_back(e.message);
    };
    vlo.set_log_sink(sink);
    vhi.set_log_sink(sink);
  }
  ~Crossed() {
    to_hi = {};
    to_lo = {};
    lo.reset();
    hi.reset();
    for (int i = 0; i < 100; ++i)
      if (vlo.run_until_idle() + vhi.run_until_idle() == 0) break;
  }

  void round() {
    if (lo_first) {
      vlo.run_until_idle();
      vhi.run_until_idle();
    } else {
      vhi.run_until_idle();
      vlo.run_until_idle();
    }
  }
  // Both dial; the second dial starts `later` rounds after the first
  // (lo's first when lo_first), before the first handshake can finish.
  void dial(int later = 0) {
    auto [lo_dials, hi_answers] = captp::memory_pipe(vlo.io(), vhi.io());
    auto [hi_dials, lo_answers] = captp::memory_pipe(vhi.io(), vlo.io());
    hi->accept(std::move(hi_answers));
    lo->accept(std::move(lo_answers));
    std::function<void()> lo_dial = [&] { to_hi = lo->connect<Echo>(hi->id(), std::move(lo_dials)); };
    std::function<void()> hi_dial = [&] { to_lo = hi->connect<Echo>(lo->id(), std::move(hi_dials)); };
    (lo_first ? lo_dial : hi_dial)();
    for (int i = 0; i < later; ++i) round();
    (lo_first ? hi_dial : lo_dial)();
  }
  // A deadline, not a timing: finishes and releases ride with the next frame
  // or the session's cancellation sweep (a timer).
  bool run_until(const std::function<bool()>& done) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < end) round();
    return done();
  }
  template <class T>
  T get(Promise<T> p) {
    EXPECT_TRUE(run_until([&] { return !p.pending(); })) << "promise did not settle";
    if (p.is_broken()) throw VatError(p.error());
    return p.value();
  }
  void drain() {
    for (int i = 0; i < 100; ++i)
      if (vlo.run_until_idle() + vhi.run_until_idle() == 0) break;
  }
};

// Each node keeps exactly one session it would use, and the two agree which
// (when the dials crossed, the one lo dialed).
void expect_one_live_session(Crossed& c, bool crossed) {
  std::vector<bool> dialed;
  for (captp::Node* n : {c.lo.get(), c.hi.get()}) {
    int live = 0;
    for (const captp::SessionInfo& s : n->sessions()) {
      if (!s.open) continue;
      ++live;
      EXPECT_FALSE(s.retired);
      dialed.push_back(s.initiator);
    }
    EXPECT_EQ(live, 1);
  }
  ASSERT_EQ(dialed.size(), 2u);
  EXPECT_NE(dialed[0], dialed[1]) << "lo and hi keep different sessions";
  if (crossed) {
    EXPECT_TRUE(dialed[0]) << "the kept session is the one lo dialed";
  }
}

std::uint64_t table_entries(const captp::SessionInfo& s) {
  return s.stats.imports + s.stats.exports + s.stats.questions + s.stats.answers + s.stats.embargoes;
}

// After every reference is dropped: one session per node, every table empty,
// and no session ended but the retired one.
void expect_drained(Crossed& c) {
  c.to_hi = {};
  c.to_lo = {};
  auto drained = [&] {
    for (captp::Node* n : {c.lo.get(), c.hi.get()}) {
      auto all = n->sessions();
      if (all.size() != 1 || table_entries(all[0]) != 0) return false;
    }
    return true;
  };
  EXPECT_TRUE(c.run_until(drained)) << "a retired session or a table entry is left";
  for (captp::Node* n : {c.lo.get(), c.hi.get()}) {
    for (const captp::SessionInfo& s : n->sessions()) {
      EXPECT_TRUE(s.open);
      EXPECT_EQ(table_entries(s), 0u);
    }
  }
  for (const std::string& why : c.closes) EXPECT_NE(why.find("crossed connection"), std::string::npos) << why;
}

TEST(CrossedDials, BothConnectReferencesSurviveInMemory) {
  for (bool lo_first : {true, false}) {
    {
      SCOPED_TRACE(testing::Message() << "lo_first " << lo_first);
      Crossed c;
      c.lo_first = lo_first;
      c.dial();
      // Both handshakes first (a responder finishes after its dialer), then
      // the calls.
      ASSERT_TRUE(c.run_until(
          [&] { return c.lo->stats().handshakes_accepted == 1 && c.hi->stats().handshakes_accepted == 1; }));
      EXPECT_EQ(c.get(c.to_hi.send<&Echo::depth>()), 2);
      EXPECT_EQ(c.get(c.to_lo.send<&Echo::depth>()), 1);
      for (std::int64_t i = 0; i < 20; ++i) {
        EXPECT_EQ(c.get(c.to_hi.send<&Echo::echo>(i)), i);
        EXPECT_EQ(c.get(c.to_lo.send<&Echo::echo>(i + 100)), i + 100);
      }
      expect_one_live_session(c, /*crossed=*/true);
      // A reference made through either session keeps working.
      Ref<Echo> far = c.get(c.to_lo.send<&Echo::next>());
      EXPECT_EQ(c.get(far.send<&Echo::depth>()), 2);
      far = {};
      expect_drained(c);
    }
  }
}

TEST(CrossedDials, CallsSentBeforeTheHandshakesArriveOnceInOrder) {
  for (bool lo_first : {true, false}) {
    for (int later : {0, 1, 2}) {
      SCOPED_TRACE(testing::Message() << "lo_first " << lo_first << ", later " << later);
      Crossed c;
      c.lo_first = lo_first;
      c.dial(later);
      std::vector<Promise<std::int64_t>> at_hi, at_lo;
      std::vector<std::int64_t> want_hi, want_lo;
      for (std::int64_t i = 1; i <= 20; ++i) {
        at_hi.push_back(c.to_hi.send<&Echo::order>(i));
        at_lo.push_back(c.to_lo.send<&Echo::order>(-i));
        want_hi.push_back(i);
        want_lo.push_back(-i);
      }
      for (std::size_t i = 0; i < at_hi.size(); ++i) {
        EXPECT_EQ(c.get(at_hi[i]), static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(c.get(at_lo[i]), static_cast<std::int64_t>(i + 1));
      }
      // Further calls, sent after both sides saw both sessions, follow them.
      for (std::int64_t i = 21; i <= 30; ++i) {
        at_hi.push_back(c.to_hi.send<&Echo::order>(i));
        at_lo.push_back(c.to_lo.send<&Echo::order>(-i));
        want_hi.push_back(i);
        want_lo.push_back(-i);
      }
      EXPECT_EQ(c.get(at_hi.back()), 30);
      EXPECT_EQ(c.get(at_lo.back()), 30);
      c.drain();
      EXPECT_EQ(c.hi_obj.call<&Echo::seen>(), want_hi);
      EXPECT_EQ(c.lo_obj.call<&Echo::seen>(), want_lo);
      // Later dials may find the first one's session and not cross at all.
      expect_one_live_session(c, /*crossed=*/later == 0);
      expect_drained(c);
    }
  }
}

// hi's connect() reference went through hi's own, retired, session: a
// reference hi passes over it stays callable from lo, and keeps the session
// open after hi lets go of everything, until lo drops it too.
TEST(CrossedDials, AReferencePassedOverTheRetiredSessionKeepsItOpen) {
  int exercised = 0;
  for (bool lo_first : {true, false}) {
    SCOPED_TRACE(testing::Message() << "lo_first " << lo_first);
    Crossed c;
    c.lo_first = lo_first;
    c.dial();
    EXPECT_EQ(c.get(c.to_lo.send<&Echo::depth>()), 1);
    ASSERT_TRUE(
        c.run_until([&] { return c.lo->stats().handshakes_accepted == 1 && c.hi->stats().handshakes_accepted == 1; }));
    c.drain();
    bool on_retired = false;
    for (const captp::SessionInfo& s : c.hi->sessions()) on_retired |= s.retired && s.stats.imports > 0;
    if (!on_retired) continue;  // this interleaving put to_lo on the kept session
    ++exercised;
    Ref<Echo> mine = c.vhi.make<Echo>(7);
    c.to_lo.send<&Echo::hold>(mine);
    EXPECT_EQ(c.get(c.to_lo.send<&Echo::call_held>(std::int64_t{5})), 5);
    mine = {};
    c.to_lo = {};
    c.to_hi = {};
    c.drain();
    EXPECT_EQ(c.hi->sessions().size(), 2u) << "lo still holds hi's object through the retired session";
    c.lo_obj.call<&Echo::hold>(Ref<Echo>{});
    expect_drained(c);
  }
  EXPECT_GT(exercised, 0) << "no interleaving used the retired session";
}

// lo's own dial fails after hi's dial reached it: lo's connect() reference
// follows the session hi dialed instead of breaking.
TEST(CrossedDials, FailedDialFallsBackToThePeersSession) {
  Crossed c;
  auto [lo_dials, hi_answers] = captp::memory_pipe(c.vlo.io(), c.vhi.io());
  auto [hi_dials, lo_answers] = captp::memory_pipe(c.vhi.io(), c.vlo.io());
  c.lo->accept(std::move(lo_answers));
  c.to_hi = c.lo->connect<Echo>(c.hi->id(), std::move(lo_dials));
  c.to_lo = c.hi->connect<Echo>(c.lo->id(), std::move(hi_dials));
  Promise<int> depth = c.to_hi.send<&Echo::depth>();
  ASSERT_TRUE(c.run_until([&] { return c.lo->sessions().size() == 1; }));
  hi_answers.reset();  // nobody answers lo's dial
  EXPECT_EQ(c.get(depth), 2);
  EXPECT_EQ(c.get(c.to_lo.send<&Echo::depth>()), 1);
  ASSERT_EQ(c.lo->sessions().size(), 1u);
  EXPECT_FALSE(c.lo->sessions()[0].initiator);
}

}  // namespace
}  // namespace vatic::test
