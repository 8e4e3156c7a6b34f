// E-order when a promise settles to a field of one of our own answers that
// already forwards to a question of ours on the same session
// (spec/captp.md 5, "Same path": a receiverAnswer is a different path). Found
// by the simulation (tests/sim, seed 7203).
//
//   a (Node, Passer) --memory pipe-- b (Node, Hub bootstrap, Slow)
//
// b calls a's Passer with its Slow (X1) and pipelines pair() on the answer
// (X2). a's answer of X1 is b's Slow, so a sends pair() on to b as a question
// Q of its own, and a's answer of X2 forwards to Q; Slow leaves Q unanswered.
// b then resolves the answer of a's later() (L) to X2's field "left", which
// its return names receiverAnswer (X2, [left]). a sent m1 along L before it
// read that return; m1 travels a -> b -> a (into X2's field) -> b (into Q's).
// m2, sent after the return, must wait for an embargo: the field of X2 that
// a reads is, after the forward, Q's own field on this session, and taken
// for the same path it let m2 go to b at once, ahead of m1.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

// b's object whose pair() is answered only when told: the question a
// forwards to it stays unanswered while the calls race.
class Slow : public Object {
 public:
  Promise<Value> pair() {
    auto [p, r] = make_promise<Value>();
    pair_ = std::move(r);
    return p;
  }
  void answer() {
    Record r;
    r.label = "pair";
    r.fields.emplace_back("left", to_value(vat().make<Echo>(10)));
    pair_.resolve(Value(std::move(r)));
  }

  VATIC_METHODS(Slow, pair, answer)

 private:
  Resolver<Value> pair_;
};

// a's object: hands b's reference back, so that a call pipelined on its
// answer goes on from a to b.
class Passer : public Object {
 public:
  Ref<Slow> pass(Ref<Slow> s) { return s; }

  VATIC_METHODS(Passer, pass)
};

// b's bootstrap.
class Hub : public Object {
 public:
  Promise<Ref<Echo>> later() {
    auto [p, r] = make_promise<Ref<Echo>>();
    later_ = std::move(r);
    return p;
  }
  // X1 = passer.pass(slow), X2 = X1.pair(): left is b's promise of X2's field.
  void wire(Ref<Passer> passer) {
    if (!slow_) slow_ = vat().make<Slow>();
    Ref<Slow> passed = from_value<Ref<Slow>>(to_value(passer.send<&Passer::pass>(slow_)));
    left_ = field<Echo>(passed.send<&Slow::pair>(), "left");
  }
  void resolve_later() { later_.resolve(left_); }
  void answer() { slow_.call<&Slow::answer>(); }

  VATIC_METHODS(Hub, later, wire, resolve_later, answer)

 private:
  Resolver<Ref<Echo>> later_;
  Ref<Slow> slow_;
  Ref<Echo> left_;
};

// Every sequence of `n` runs of one of the two loops.
std::vector<std::string> two_vat_schedules(std::size_t n) {
  std::vector<std::string> out{""};
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> next;
    for (const auto& s : out)
      for (char v : {'a', 'b'}) next.push_back(s + v);
    out = std::move(next);
  }
  return out;
}

TEST(EmbargoReceiverAnswer, FieldOfAnAnswerForwardedBackToThePeerIsADifferentPath) {
  int failures = 0;
  for (std::size_t n = 0; n <= 5; ++n) {
    for (const std::string& between : two_vat_schedules(n)) {
      TwoVats t;
      t.b->set_bootstrap(t.vb.make<Hub>());
      auto [ea, eb] = captp::memory_pipe(t.va.io(), t.vb.io());
      t.b->accept(std::move(eb));
      Ref<Hub> hub = t.a->connect<Hub>(t.b->id(), std::move(ea));
      Ref<Passer> passer = t.va.make<Passer>();
      Ref<Echo> l = from_value<Ref<Echo>>(to_value(hub.send<&Hub::later>()));
      std::string what;
      try {
        // X1 and X2 reach a; a forwards X2 to b as Q, which stays unanswered.
        t.get(hub.send<&Hub::wire>(passer));
        t.drain();
        // b resolves L (its return leaves for a) before it reads m1.
        Promise<void> resolved = hub.send<&Hub::resolve_later>();
        t.va.run_until_idle();
        t.vb.run_until_idle();
        Promise<std::int64_t> o1 = l.send<&Echo::order>(1);
        for (char v : between) (v == 'a' ? t.va : t.vb).run_until_idle();
        Promise<std::int64_t> o2 = l.send<&Echo::order>(2);
        t.get(resolved);
        t.drain();
        t.get(hub.send<&Hub::answer>());
        std::int64_t first = t.get(o1), second = t.get(o2);
        if (first != 1 || second != 2)
          what = "m1 arrived " + std::to_string(first) + "th, m2 " + std::to_string(second) + "th";
      } catch (const VatError& e) {
        what = to_string(e.error());
      }
      if (what.empty()) {
        for (const captp::Node* node : {t.a.get(), t.b.get()})
          for (const auto& s : node->sessions())
            if (!s.open) what = "a session ended";
      }
      if (!what.empty() && ++failures <= 5) ADD_FAILURE() << "schedule m1 " << between << " m2: " << what;
    }
  }
  EXPECT_EQ(failures, 0) << "schedules where m2 overtook m1 through the receiverAnswer";
}

}  // namespace
}  // namespace vatic::test
