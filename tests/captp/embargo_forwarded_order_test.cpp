// E-order of calls that a vat forwards on while they wait in a promise of its
// own, among three vats (spec/captp.md 5, "E-order" and "Embargo"). Both
// scenarios were found by the simulation (tests/sim, seeds 221 and 896).
//
//   a (Node) --pipe-- b (Node, Echo holding c's Echo) --pipe-- c (Node, Echo)
//        \______________________pipe_____________________________/
//
// 1. A pipelined field of an answer that forwards to a third vat: a pipelines
//    m1 on the field "left" of pair() sent to later()'s answer at b. b reads
//    m1 while later() is pending (m1 waits in b's field promise), then later()
//    resolves to c's Echo: b forwards pair() to c and its answer now forwards
//    to b's question to c. m2, sent to the same field afterwards, goes on to
//    c at once. m1 must not stay behind in the field promise until c answers.
// 2. The resolve of an exported promise waits for the embargo that holds its
//    calls: a's promise P (the answer of b.same(mine)) is passed to c, which
//    hands it back (Q, a promise import of P at c). a sent a call along P, so
//    when b answers with a's own object P embargoes until b's loopback. The
//    calls m1 that c forwarded to P wait in that embargo; if a told c at once
//    that P resolved to its object, m2 (sent along Q after) would go from c
//    straight to the object and overtake m1.
// 3. The return of an answer waits for the embargo that holds the calls
//    pipelined on it (seed 2658): b holds a's proxy of c's Echo. a pipelines
//    same(mine) and then m1 on b's held(); b forwards both back to a's proxy,
//    and a on to c. c's answer names a's own object, so a's question to c
//    embargoes (m1 went along it, and c forwards m1 to a only later). a's
//    answer to b, the same question's result, must not name a's object
//    before that embargo lifts: b would take it as the same path, and m2,
//    sent by a along the pending answer meanwhile, would go from b straight
//    to a's object, ahead of m1 still on its way back from c.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

// A stream whose reads can be held back: what the peer wrote meanwhile is
// read (into the reader's buffer) but handed over only on release(), as a
// slow link would. It lets a test keep one vat from hearing one peer while
// it hears the others.
struct Gate {
  bool held = false;
  std::vector<std::function<void()>> waiting;
  void release() {
    held = false;
    for (auto& f : std::exchange(waiting, {})) f();
  }
};

class GatedStream final : public captp::Stream {
 public:
  GatedStream(std::unique_ptr<captp::Stream> s, std::shared_ptr<Gate> gate)
      : s_(std::move(s)), gate_(std::move(gate)) {}
  void async_read_some(boost::asio::mutable_buffer b, captp::IoHandler h) override {
    s_->async_read_some(b, [gate = gate_, h = std::move(h)](boost::system::error_code ec, std::size_t n) mutable {
      if (!gate->held) return h(ec, n);
      gate->waiting.push_back([h = std::move(h), ec, n]() mutable { h(ec, n); });
    });
  }
  void async_write(std::vector<boost::asio::const_buffer> b, captp::IoHandler h) override {
    s_->async_write(std::move(b), std::move(h));
  }
  void close() override { s_->close(); }
  std::string describe() const override { return s_->describe(); }

 private:
  std::unique_ptr<captp::Stream> s_;
  std::shared_ptr<Gate> gate_;
};

struct Triangle : ThreeVatLoops {
  Ref<Echo> b_echo;                                         // b's bootstrap, as a's import
  Ref<Echo> c_echo;                                         // c's bootstrap, as a's import
  Ref<Echo> via_c;                                          // c's Echo as a sees it through b: b's export of its import
  Ref<Echo> mine;                                           // a's own Echo
  std::shared_ptr<Gate> c_to_a = std::make_shared<Gate>();  // what a reads from c

  Triangle() {
    c->set_bootstrap(vc.make<Echo>());
    auto [bc, cb] = captp::memory_pipe(vb.io(), vc.io());
    c->accept(std::move(cb));
    Ref<Echo> b_to_c = b->connect<Echo>(c->id(), std::move(bc));
    Ref<Echo> held = vb.make<Echo>();
    held.call<&Echo::hold>(b_to_c);
    b->set_bootstrap(held);
    auto [ab, ba] = captp::memory_pipe(va.io(), vb.io());
    b->accept(std::move(ba));
    b_echo = a->connect<Echo>(b->id(), std::move(ab));
    auto [ac, ca] = captp::memory_pipe(va.io(), vc.io());
    c->accept(std::move(ca));
    c_echo = a->connect<Echo>(c->id(), std::make_unique<GatedStream>(std::move(ac), c_to_a));
    via_c = get(b_echo.send<&Echo::held>());
    EXPECT_EQ(get(via_c.send<&Echo::echo>(5)), 5) << "c is not reachable through b";
    EXPECT_EQ(get(c_echo.send<&Echo::echo>(6)), 6) << "c is not reachable from a";
    mine = va.make<Echo>(0);
  }
  ~Triangle() {
    c_to_a->release();
    b_echo = {};
    c_echo = {};
    via_c = {};
    mine = {};
  }
  bool all_sessions_open() const {
    for (const captp::Node* n : {a.get(), b.get(), c.get()}) {
      auto s = n->sessions();
      if (s.size() != 2) return false;
      for (const auto& i : s)
        if (!i.open) return false;
    }
    return true;
  }
};

TEST(EmbargoForwardedOrder, PipelinedFieldOfAnAnswerForwardedToAThirdVatKeepsOrder) {
  int failures = 0;
  for (std::size_t n = 0; n <= 4; ++n) {
    for (const std::string& between : three_vat_schedules(n)) {
      Triangle t;
      // later() at b, pair() pipelined on its answer, m1 on the pair's field.
      Promise<Ref<Echo>> later = t.b_echo.send<&Echo::later>();
      Promise<Value> pair = from_value<Ref<Echo>>(to_value(later)).send<&Echo::pair>();
      Ref<Echo> left = field<Echo>(pair, "left");
      Promise<std::int64_t> o1 = left.send<&Echo::order>(1);
      // b resolves later() to c's Echo once it has read m1.
      Promise<void> resolved = t.b_echo.send<&Echo::resolve_later>(t.via_c);
      for (char v : between) t.run(v);
      Promise<std::int64_t> o2 = left.send<&Echo::order>(2);
      std::string what;
      try {
        t.get(resolved);
        std::int64_t first = t.get(o1), second = t.get(o2);
        if (first != 1 || second != 2)
          what = "m1 arrived " + std::to_string(first) + "th, m2 " + std::to_string(second) + "th";
      } catch (const VatError& e) {
        what = to_string(e.error());
      }
      if (what.empty() && !t.all_sessions_open()) what = "a session ended";
      if (!what.empty() && ++failures <= 5) ADD_FAILURE() << "schedule m1 " << between << " m2: " << what;
    }
  }
  EXPECT_EQ(failures, 0) << "schedules that broke E-order through the pipelined field";
}

TEST(EmbargoForwardedOrder, ResolveOfAnExportedPromiseWaitsForTheEmbargoHoldingItsCalls) {
  int failures = 0;
  // The runs after a's view of c opens again, and whether b's loopback
  // (its reply to P's disembargo) may reach a before m1 does.
  for (bool b_early : {false, true}) {
    for (std::size_t n = 0; n <= 4; ++n) {
      for (const std::string& after : three_vat_schedules(n)) {
        Triangle t;
        // P: b hands a's own object back; a call along P makes it embargo.
        Promise<Ref<Echo>> p = t.b_echo.send<&Echo::same>(t.mine);
        Ref<Echo> pr = from_value<Ref<Echo>>(to_value(p));
        Promise<std::int64_t> o0 = pr.send<&Echo::order>(100);
        // Q: c hands P back (its promise import of a's export); m1 along Q.
        Promise<Ref<Echo>> q = t.c_echo.send<&Echo::same>(pr);
        Ref<Echo> qr = from_value<Ref<Echo>>(to_value(q));
        Promise<std::int64_t> o1 = qr.send<&Echo::order>(1);
        // c forwards m1 to a's export of P and answers Q, both slow to reach a.
        t.c_to_a->held = true;
        t.run('a');  // a's writes go out when its loop runs
        t.run('c');
        // a learns P's answer (its own object): P embargoes. m2 along Q,
        // which a still thinks pending, follows P's resolve (if sent) to c.
        t.run('b');
        t.run('a');
        Promise<std::int64_t> o2 = qr.send<&Echo::order>(2);
        t.run('a');
        t.run('c');
        if (b_early) t.run('b');
        t.c_to_a->release();
        for (char v : after) t.run(v);
        std::string what;
        try {
          t.get(o0);
          t.get(o1);
          t.get(o2);
          std::vector<std::int64_t> through_q;
          for (std::int64_t x : t.mine.call<&Echo::seen>())
            if (x != 100) through_q.push_back(x);
          if (through_q != std::vector<std::int64_t>{1, 2})
            what = "a's object saw the calls through Q as " + ::testing::PrintToString(through_q);
        } catch (const VatError& e) {
          what = to_string(e.error());
        }
        if (what.empty() && !t.all_sessions_open()) what = "a session ended";
        if (!what.empty() && ++failures <= 5)
          ADD_FAILURE() << "b early " << b_early << ", then " << after << ": " << what;
      }
    }
  }
  EXPECT_EQ(failures, 0) << "schedules where a call sent along Q overtook an earlier one";
}

TEST(EmbargoForwardedOrder, ReturnOfAnAnswerForwardedToAThirdVatWaitsForTheEmbargoHoldingItsCalls) {
  int failures = 0;
  for (std::size_t n = 0; n <= 3; ++n) {
    for (const std::string& after : three_vat_schedules(n)) {
      Triangle t;
      // b's object holding a's export of its import of c's Echo (a proxies).
      Ref<Echo> bx = t.get(t.b_echo.send<&Echo::next>());
      t.get(bx.send<&Echo::hold>(t.c_echo));
      // same(mine) pipelined on held() at b: b forwards it to a's proxy, a to c.
      Promise<Ref<Echo>> h = bx.send<&Echo::held>();
      Promise<Ref<Echo>> p = from_value<Ref<Echo>>(to_value(h)).send<&Echo::same>(t.mine);
      Ref<Echo> pr = from_value<Ref<Echo>>(to_value(p));
      t.run('a');
      t.run('b');
      t.run('a');
      // c answers same() with a's own object; a does not read it yet.
      t.c_to_a->held = true;
      t.run('c');
      // m1 along p: b and then a forward it, pipelined, on to c.
      Promise<std::int64_t> o1 = pr.send<&Echo::order>(1);
      t.run('a');
      t.run('b');
      t.run('a');
      // a reads c's answer (c has not read m1 yet): its question to c
      // embargoes. m2 along p, which a still thinks pending, goes to b.
      t.c_to_a->release();
      t.run('a');
      Promise<std::int64_t> o2 = pr.send<&Echo::order>(2);
      t.run('a');
      t.run('b');
      t.run('a');
      for (char v : after) t.run(v);
      std::string what;
      try {
        t.get(o1);
        t.get(o2);
        std::vector<std::int64_t> seen = t.mine.call<&Echo::seen>();
        if (seen != std::vector<std::int64_t>{1, 2})
          what = "a's object saw the calls along p as " + ::testing::PrintToString(seen);
      } catch (const VatError& e) {
        what = to_string(e.error());
      }
      if (what.empty() && !t.all_sessions_open()) what = "a session ended";
      if (!what.empty() && ++failures <= 5) ADD_FAILURE() << "then " << after << ": " << what;
    }
  }
  EXPECT_EQ(failures, 0) << "schedules where m2 overtook m1 through a's early return";
}

// 4. A path into an answer that forwards to a question (sim seeds 2299 and
//    25655, two vats): b's answer A (pair_of(bx) sent to its held(), a's
//    Pairs) forwards to b's question Q to a. m1, pipelined by a on A.left,
//    goes on along Q.left, the path's handler held only for that send. Q's
//    answer names b's own bx, so Q.left embargoes (m1 comes back from a to
//    b later); m2, sent by a on A.left after, must wait behind it instead
//    of taking A's record straight to bx, and A's return must wait too.
class Pairs final : public Object {
 public:
  void hold(Ref<Pairs> r) { held_ = std::move(r); }
  Ref<Pairs> held() const { return held_; }
  Value pair_of(Ref<Pairs> r) {
    Record rec;
    rec.label = "pair";
    rec.fields.emplace_back("left", to_value(r));
    return Value(std::move(rec));
  }
  std::int64_t order(std::int64_t x) {
    seen_.push_back(x);
    return static_cast<std::int64_t>(seen_.size());
  }
  std::vector<std::int64_t> seen() const { return seen_; }
  VATIC_METHODS(Pairs, hold, held, pair_of, order, seen)

 private:
  Ref<Pairs> held_;
  std::vector<std::int64_t> seen_;
};

TEST(EmbargoForwardedOrder, PathIntoAnAnswerForwardedBackToTheCallerKeepsOrder) {
  int failures = 0;
  for (std::size_t n = 0; n <= 4; ++n) {
    for (const std::string& between : three_vat_schedules(n)) {
      if (between.find('c') != std::string::npos) continue;
      TwoVats t;
      t.b->set_bootstrap(t.vb.make<Pairs>());
      auto [ea, eb] = captp::memory_pipe(t.va.io(), t.vb.io());
      t.b->accept(std::move(eb));
      Ref<Pairs> bx = t.a->connect<Pairs>(t.b->id(), std::move(ea));
      Ref<Pairs> pa = t.va.make<Pairs>();
      t.get(bx.send<&Pairs::hold>(pa));
      // A: pair_of(bx) pipelined on held() at b, forwarded to a's Pairs as Q.
      Promise<Ref<Pairs>> h = bx.send<&Pairs::held>();
      Promise<Value> pair = from_value<Ref<Pairs>>(to_value(h)).send<&Pairs::pair_of>(bx);
      Ref<Pairs> left = field<Pairs>(pair, "left");
      t.va.run_until_idle();
      t.vb.run_until_idle();
      // m1 along A.left: b forwards it along Q.left, a reflects it to bx.
      Promise<std::int64_t> o1 = left.send<&Pairs::order>(1);
      for (char v : between) (v == 'a' ? t.va : t.vb).run_until_idle();
      Promise<std::int64_t> o2 = left.send<&Pairs::order>(2);
      std::string what;
      try {
        t.get(o1);
        t.get(o2);
        t.get(pair);
        std::vector<std::int64_t> seen = t.get(bx.send<&Pairs::seen>());
        if (seen != std::vector<std::int64_t>{1, 2}) what = "bx saw " + ::testing::PrintToString(seen);
      } catch (const VatError& e) {
        what = to_string(e.error());
      }
      if (!what.empty() && ++failures <= 5) ADD_FAILURE() << "schedule m1 " << between << " m2: " << what;
    }
  }
  EXPECT_EQ(failures, 0) << "schedules where m2 overtook m1 along the path into the forwarded answer";
}

}  // namespace
}  // namespace vatic::test
