// Supervisor restart sequences against a reference model (rapidcheck).
//
// Each case draws a supervisor (strategy, intensity, period, optional
// backoff), its children (restart type, CrashOn) and a sequence of commands:
// a method that throws, an explicit crash(), a VatError (an answer under
// CrashOn::unexpected), finish(), `inc` and a call left in flight, time
// passing on the manual clock, terminate_child, restart_child, spawn
// (simple_one_for_one) and stop. After every command the vat runs until idle
// and the model's prediction is compared with the real supervisor:
// which_children (state, restarts, incarnation), state(), restarts(), the
// counter behind every running child (fresh state after each restart: 0), the
// kind of every reference, and the outcome of every send so far (pending,
// value, broken with `disconnected`, or broken with `failed` for the call that
// crashed). The properties are split by strategy so that each reports its own
// counterexample. On a mismatch the report shows the commands run so far, and
// rapidcheck shrinks the sequence.
//
// The model follows vat/supervise/supervisor.h and Erlang/OTP:
// - a crash that calls for a restart, or a permanent child finishing, is one
//   restart of the supervisor: more than `intensity` of them with timestamps
//   in [now - period, now] and the supervisor gives up (every child stops,
//   state "failed"), or with `backoff` set pauses restarts until `backoff`
//   has passed (state "backoff"), then restarts what waits and forgets the
//   restarts counted so far (suture);
// - permanent children are always restarted (also after finishing, also when
//   that happens during a backoff), transient ones only after a crash,
//   temporary ones never: they leave which_children when they crash or finish;
// - one_for_all takes down every sibling with the child, rest_for_one the
//   siblings started after it, and they come back in start order with it;
//   a temporary sibling taken down is not restarted but removed (OTP); a
//   sibling stopped for good stays stopped. When the restart is paused by a
//   backoff the group still goes down at the crash and comes back together
//   when the backoff ends;
// - messages sent to a child whose restart is paused wait in its slot and
//   reach the next incarnation in order (the commands send it only `inc` and
//   calls that stay in flight: a crash waiting there would run in the middle
//   of the resumed restarts); calls in flight on an incarnation that ends
//   break with `disconnected` and a reason saying retry is safe, everything
//   sent to a child stopped for good breaks with `disconnected` without it;
// - restart_child makes a new incarnation, not counted as a crash (during a
//   backoff the child waits with the others); terminate_child stops a child
//   for good, and a dynamic or temporary one leaves which_children (as
//   OTP deletes them); when the supervisor gives up or stops, every child it lists
//   stays listed as stopped.
// Counters the documentation leaves open follow the implementation (see
// ChildModel::restarts and Model::total).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/vat/supervisor_model.h"
#include "vat/supervise/supervisor.h"
#include "vat/vat.h"

namespace vatic {
namespace {

using namespace std::chrono_literals;

// --- The child under test.

struct ModelGate {
  std::vector<Resolver<std::int64_t>> waiting;  // never settled: calls stay in flight
};

class ModelWorker : public Object {
 public:
  explicit ModelWorker(ModelGate* gate) : gate_(gate) {}
  std::int64_t inc() { return ++n_; }
  std::int64_t get() { return n_; }
  std::int64_t boom() { throw std::runtime_error("boom"); }
  std::int64_t die() { crash("on purpose"); }
  std::int64_t refuse() { throw VatError(ErrorKind::failed, "refused"); }
  void done() { finish(); }
  Promise<std::int64_t> slow() {
    auto [p, r] = make_promise<std::int64_t>();
    gate_->waiting.push_back(std::move(r));
    return p;
  }
  VATIC_METHODS(ModelWorker, inc, get, boom, die, refuse, done, slow)

 private:
  ModelGate* gate_;
  std::int64_t n_ = 0;
};

// --- Commands and configurations.

enum class Op : int { boom, die, refuse, finish, inc, slow, advance, terminate, restart, spawn, stop };

const char* op_name(Op op) {
  switch (op) {
    case Op::boom: return "boom";
    case Op::die: return "crash()";
    case Op::refuse: return "refuse";
    case Op::finish: return "finish";
    case Op::inc: return "inc";
    case Op::slow: return "slow";
    case Op::advance: return "advance";
    case Op::terminate: return "terminate_child";
    case Op::restart: return "restart_child";
    case Op::spawn: return "spawn";
    case Op::stop: return "stop";
  }
  return "?";
}

struct Cmd {
  Op op = Op::inc;
  int child = 0;  // modulo the number of children started so far
  int ms = 0;     // for advance
};

void showValue(const Cmd& c, std::ostream& os) {
  os << op_name(c.op);
  if (c.op == Op::advance)
    os << " " << c.ms << "ms";
  else if (c.op != Op::spawn && c.op != Op::stop)
    os << " #" << c.child;
}

rc::Gen<KidSpec> gen_kid() {
  return rc::gen::map(
      rc::gen::pair(rc::gen::element(Restart::permanent, Restart::transient, Restart::temporary),
                    rc::gen::weightedElement<CrashOn>({{3, CrashOn::any_exception}, {1, CrashOn::unexpected}})),
      [](const std::pair<Restart, CrashOn>& p) {
        return KidSpec{p.first, p.second};
      });
}

rc::Gen<Cmd> gen_cmd(Strategy s) {
  bool dynamic = s == Strategy::simple_one_for_one;
  auto op = rc::gen::weightedElement<Op>({{8, Op::boom},
                                          {4, Op::die},
                                          {2, Op::refuse},
                                          {6, Op::finish},
                                          {12, Op::inc},
                                          {4, Op::slow},
                                          {8, Op::advance},
                                          {2, Op::terminate},
                                          {4, Op::restart},
                                          {dynamic ? 6u : 0u, Op::spawn},
                                          {1, Op::stop}});  // ends the interesting part: rare
  // Durations around the periods and backoffs below, and anything up to 6 s.
  auto ms = rc::gen::oneOf(rc::gen::element(0, 1, 49, 50, 99, 100, 101, 999, 1000, 5000), rc::gen::inRange(0, 6000));
  return rc::gen::map(rc::gen::tuple(op, rc::gen::inRange(0, 8), ms), [](const std::tuple<Op, int, int>& t) {
    return Cmd{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
  });
}

struct Seen {
  Out out = Out::pending;
  std::int64_t value = 0;
  std::string reason;
};

template <class T>
std::function<Seen()> watch(Promise<T> p) {
  return [p] {
    if (p.pending()) return Seen{Out::pending};
    if (p.is_broken()) {
      const Error& e = p.error();
      Out out = e.kind == ErrorKind::failed                           ? Out::failed
                : e.kind != ErrorKind::disconnected                   ? Out::other
                : e.reason.find("retry is safe") != std::string::npos ? Out::retry
                                                                      : Out::disconnected;
      return Seen{out, -1, std::string(to_string(e.kind)) + ": " + e.reason};
    }
    if constexpr (std::is_void_v<T>)
      return Seen{Out::value, 0};
    else
      return Seen{Out::value, p.value()};
  };
}

std::string show(const Expect& e) {
  switch (e.out) {
    case Out::pending: return "pending";
    case Out::value: return "value " + std::to_string(e.value);
    case Out::retry: return "broken (disconnected, retry is safe)";
    case Out::disconnected: return "broken (disconnected, for good)";
    case Out::failed: return "broken (failed)";
    case Out::other: return "broken (another kind)";
  }
  return "?";
}

std::string show(const Seen& s) {
  if (s.out == Out::pending) return "pending";
  if (s.out == Out::value) return "value " + std::to_string(s.value);
  return "broken (" + s.reason + ")";
}

struct Real {
  ManualClock clock;
  Vat vat{VatOptions{.name = "model", .clock = &clock}};
  ModelGate gate;
  Ref<Supervisor> sup;
  std::vector<Ref<ModelWorker>> refs;          // by handle, as the model's kids
  std::map<int, std::function<Seen()>> sends;  // by send, while not yet checked settled

  explicit Real(const Config& c) {
    SupervisorOptions o;
    o.name = "sup";
    o.strategy = c.strategy;
    o.intensity = c.intensity;
    o.period = std::chrono::milliseconds(c.period_ms);
    if (c.backoff_ms) o.backoff = std::chrono::milliseconds(*c.backoff_ms);
    if (c.strategy == Strategy::simple_one_for_one)
      o.child_template = ChildSpec{.id = "conn", .restart = c.kids[0].restart, .crash_on = c.kids[0].crash_on};
    sup = vat.make<Supervisor>(std::move(o));
  }
  Ref<Object> make() { return vat.make<ModelWorker>(&gate); }
};

// --- The property.

class Run {
 public:
  explicit Run(Config c) : cfg_(std::move(c)), model_(cfg_), real_(cfg_) {
    trace_ << describe(cfg_) << "\n";
    if (cfg_.strategy == Strategy::simple_one_for_one) {
      trace_ << "  initial spawns:";
      for (int i = 0; i < cfg_.initial; ++i) spawn();
      trace_ << "\n";
    } else {
      for (std::size_t i = 0; i < cfg_.kids.size(); ++i) {
        std::string id = "c" + std::to_string(i);
        KidSpec k = cfg_.kids[i];
        real_.refs.push_back(start_child<ModelWorker>(
            real_.sup,
            ChildSpec{
                .id = id, .start = [this] { return real_.make(); }, .restart = k.restart, .crash_on = k.crash_on}));
        model_.add(id, k, false);
      }
    }
    real_.vat.run_until_idle();
  }

  // Empty while the model and the supervisor agree.
  std::string check() {
    std::ostringstream bad;
    bad << std::exchange(spawn_bad_, {});
    std::string_view st = real_.sup.call<&Supervisor::state>();
    if (st != Model::name(model_.st))
      bad << "supervisor state: model " << Model::name(model_.st) << ", real " << st << "\n";
    std::int64_t total = real_.sup.call<&Supervisor::restarts>();
    if (total != model_.total) bad << "supervisor restarts(): model " << model_.total << ", real " << total << "\n";

    std::vector<ChildInfo> info = real_.sup.call<&Supervisor::which_children>();
    std::vector<const ChildModel*> listed;
    for (const auto& c : model_.kids)
      if (c.st != ChildModel::St::removed) listed.push_back(&c);
    if (info.size() != listed.size()) {
      bad << "which_children: model [";
      for (auto* c : listed) bad << " " << c->id;
      bad << " ], real [";
      for (auto& i : info) bad << " " << i.id;
      bad << " ]\n";
    } else {
      for (std::size_t i = 0; i < info.size(); ++i) {
        const ChildModel& m = *listed[i];
        const ChildInfo& r = info[i];
        if (r.id != m.id || r.state != to_cstr(m.st) || r.restarts != m.restarts || r.incarnation != m.incarnation ||
            r.restart != to_string(m.restart))
          bad << "child " << m.id << ": model {" << to_cstr(m.st) << ", restarts " << m.restarts << ", incarnation "
              << m.incarnation << "}, real {" << r.id << " " << r.state << ", restarts " << r.restarts
              << ", incarnation " << r.incarnation << "}\n";
      }
    }

    for (std::size_t i = 0; i < model_.kids.size(); ++i) {
      const ChildModel& m = model_.kids[i];
      bool gone = m.st == ChildModel::St::stopped || m.st == ChildModel::St::removed;
      RefKind k = real_.refs[i].kind();
      if ((k == RefKind::broken) != gone)
        bad << "reference #" << i << " (" << m.id << ", " << to_cstr(m.st) << ") is "
            << (k == RefKind::broken ? "broken" : "not broken") << "\n";
    }

    // Sends: settled ones are checked once and forgotten.
    for (auto it = real_.sends.begin(); it != real_.sends.end();) {
      Expect e = model_.expect.at(it->first);
      Seen s = it->second();
      bool same = s.out == e.out && (e.out != Out::value || s.value == e.value);
      if (!same) bad << "send " << it->first << ": model " << show(e) << ", real " << show(s) << "\n";
      if (e.out != Out::pending && same)
        it = real_.sends.erase(it);
      else
        ++it;
    }

    // The state behind each running child.
    std::vector<std::pair<std::size_t, Promise<std::int64_t>>> gets;
    for (std::size_t i = 0; i < model_.kids.size(); ++i)
      if (model_.kids[i].st == ChildModel::St::running) gets.emplace_back(i, real_.refs[i].send<&ModelWorker::get>());
    real_.vat.run_until_idle();
    for (auto& [i, p] : gets) {
      Seen s = watch(p)();
      if (s.out != Out::value || s.value != model_.kids[i].counter)
        bad << "get #" << i << " (" << model_.kids[i].id << "): model value " << model_.kids[i].counter << ", real "
            << show(s) << "\n";
    }
    return bad.str();
  }

  void apply(const Cmd& cmd) {
    trace_ << "  " << op_name(cmd.op);
    switch (cmd.op) {
      case Op::advance:
        trace_ << " " << cmd.ms << "ms";
        real_.clock.advance(std::chrono::milliseconds(cmd.ms));
        model_.advance(cmd.ms);
        break;
      case Op::spawn:
        if (cfg_.strategy == Strategy::simple_one_for_one) spawn();
        break;
      case Op::stop: {
        int s = track(real_.sup.send<&Supervisor::stop>());
        model_.expect[s] = {Out::value, 0};
        if (model_.st != Model::Sup::failed) {
          for (auto it = model_.kids.rbegin(); it != model_.kids.rend(); ++it) model_.stop_for_good(*it, false);
          model_.st = Model::Sup::stopped;
        }
        break;
      }
      default: to_child(cmd); break;
    }
    trace_ << "\n";
    real_.vat.run_until_idle();
  }

  std::string trace() const { return trace_.str(); }

 private:
  template <class T>
  int track(Promise<T> p) {
    int id = next_send_++;
    real_.sends[id] = watch(std::move(p));
    model_.expect[id] = {Out::pending};
    return id;
  }

  void spawn() {
    bool refused = model_.st == Model::Sup::failed || model_.st == Model::Sup::stopped;
    bool threw = false;
    Ref<ModelWorker> r;
    try {
      r = vatic::spawn<ModelWorker>(real_.sup, [this] { return real_.make(); });
    } catch (const VatError&) {
      threw = true;
    }
    if (threw != refused)
      spawn_bad_ += std::string("spawn ") + (threw ? "refused" : "accepted") + " by the supervisor, not by the model\n";
    if (threw || refused) return;
    std::string id = "conn-" + std::to_string(model_.next_dynamic++);
    trace_ << " (" << id << " = #" << real_.refs.size() << ")";
    real_.refs.push_back(r);
    model_.add(id, cfg_.kids[0], true);
  }

  void to_child(const Cmd& cmd) {
    std::size_t i = static_cast<std::size_t>(cmd.child) % model_.kids.size();
    ChildModel& c = model_.kids[i];
    const Ref<ModelWorker>& ref = real_.refs[i];
    trace_ << " #" << i << " (" << c.id << ")";
    using St = ChildModel::St;
    bool gone = c.st == St::stopped || c.st == St::removed;
    switch (cmd.op) {
      case Op::boom:
      case Op::die:
      case Op::refuse:
      case Op::finish: {
        // A crash or finish queued behind a paused restart would run in the
        // middle of the next restart; the model keeps to messages a running
        // child or a stopped slot handles.
        if (c.st == St::restarting) {
          trace_ << " [skipped: restarting]";
          return;
        }
        int s = cmd.op == Op::boom     ? track(ref.send<&ModelWorker::boom>())
                : cmd.op == Op::die    ? track(ref.send<&ModelWorker::die>())
                : cmd.op == Op::refuse ? track(ref.send<&ModelWorker::refuse>())
                                       : track(ref.send<&ModelWorker::done>());
        if (gone) {
          model_.expect[s] = {Out::disconnected};
          return;
        }
        if (cmd.op == Op::finish) {
          model_.expect[s] = {Out::value, 0};
          model_.finished(i);
          return;
        }
        model_.expect[s] = {Out::failed};
        if (cmd.op == Op::refuse && c.crash_on == CrashOn::unexpected) return;  // an answer
        model_.crashed(i);
        return;
      }
      case Op::inc: {
        int s = track(ref.send<&ModelWorker::inc>());
        if (gone)
          model_.expect[s] = {Out::disconnected};
        else if (c.st == St::restarting)
          c.queued.emplace_back(s, false);
        else
          model_.expect[s] = {Out::value, ++c.counter};
        return;
      }
      case Op::slow: {
        int s = track(ref.send<&ModelWorker::slow>());
        if (gone)
          model_.expect[s] = {Out::disconnected};
        else if (c.st == St::restarting)
          c.queued.emplace_back(s, true);
        else
          c.in_flight.push_back(s);
        return;
      }
      case Op::terminate: {
        int s = track(real_.sup.send<&Supervisor::terminate_child>(c.id));
        if (c.st == St::removed) {
          model_.expect[s] = {Out::failed};  // no such child
          return;
        }
        model_.expect[s] = {Out::value, 0};
        // As OTP: a dynamic or temporary child is forgotten; a static
        // permanent or transient one stays listed as stopped.
        if (!gone) model_.stop_for_good(c, c.dynamic || c.restart == Restart::temporary);
        return;
      }
      case Op::restart: {
        int s = track(real_.sup.send<&Supervisor::restart_child>(c.id));
        if (gone) {
          model_.expect[s] = {Out::failed};  // no such child, or stopped for good
          return;
        }
        model_.expect[s] = {Out::value, 0};
        if (c.st == St::running) {
          model_.end_life(c, Out::retry);
          c.st = St::restarting;
          // Not counted as a crash; during a backoff it waits like the others.
          if (model_.st == Model::Sup::running) model_.start_life(c);
        }
        return;
      }
      default: return;
    }
  }

  Config cfg_;
  Model model_;
  Real real_;
  std::ostringstream trace_;
  int next_send_ = 0;
  std::string spawn_bad_;
};

Config draw_config(Strategy s) {
  Config c;
  c.strategy = s;
  c.intensity = *rc::gen::inRange(0, 5);
  c.period_ms = *rc::gen::element(0, 100, 1000, 5000);
  if (*rc::gen::arbitrary<bool>()) c.backoff_ms = *rc::gen::element(50, 100, 1000);
  if (s == Strategy::simple_one_for_one) {
    c.kids = {*gen_kid()};
    c.initial = *rc::gen::inRange(1, 6);
  } else {
    std::size_t n = *rc::gen::inRange<std::size_t>(1, 6);
    c.kids = *rc::gen::container<std::vector<KidSpec>>(n, gen_kid());
  }
  return c;
}

void check_against_model(Strategy s) {
  Config cfg = draw_config(s);
  std::vector<Cmd> cmds = *rc::gen::resize(60, rc::gen::container<std::vector<Cmd>>(gen_cmd(s)));
  Run run(cfg);
  std::string bad = run.check();
  if (!bad.empty()) RC_FAIL("after starting the children:\n" + run.trace() + bad);
  for (const Cmd& c : cmds) {
    run.apply(c);
    bad = run.check();
    if (!bad.empty()) RC_FAIL("model and supervisor disagree after:\n" + run.trace() + bad);
  }
}

RC_GTEST_PROP(SupervisorModel, OneForOneFollowsTheModel, ()) { check_against_model(Strategy::one_for_one); }
RC_GTEST_PROP(SupervisorModel, OneForAllFollowsTheModel, ()) { check_against_model(Strategy::one_for_all); }
RC_GTEST_PROP(SupervisorModel, RestForOneFollowsTheModel, ()) { check_against_model(Strategy::rest_for_one); }
RC_GTEST_PROP(SupervisorModel, SimpleOneForOneFollowsTheModel, ()) {
  check_against_model(Strategy::simple_one_for_one);
}

}  // namespace
}  // namespace vatic
