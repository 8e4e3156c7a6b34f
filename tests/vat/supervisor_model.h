// The reference model of tests/vat/supervisor_model_test.cpp: what a
// supervisor should do after each command, in plain C++ (OTP's semantics as
// vat/supervise/supervisor.h documents them). Included by that file only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "vat/supervise/supervisor.h"

namespace vatic {
namespace {

struct KidSpec {
  Restart restart = Restart::permanent;
  CrashOn crash_on = CrashOn::any_exception;
};

void showValue(const KidSpec& k, std::ostream& os) {
  os << to_string(k.restart) << (k.crash_on == CrashOn::unexpected ? "/unexpected" : "");
}

struct Config {
  Strategy strategy = Strategy::one_for_one;
  int intensity = 3;
  int period_ms = 5000;
  std::optional<int> backoff_ms;
  std::vector<KidSpec> kids;  // static children, or the template (one entry) and the initial spawns
  int initial = 1;            // simple_one_for_one: spawns before the commands
};

std::string describe(const Config& c) {
  std::ostringstream os;
  os << to_string(c.strategy) << " intensity=" << c.intensity << " period=" << c.period_ms << "ms backoff=";
  if (c.backoff_ms)
    os << *c.backoff_ms << "ms";
  else
    os << "none";
  if (c.strategy == Strategy::simple_one_for_one) {
    os << " template=";
    showValue(c.kids.at(0), os);
    os << " spawned=" << c.initial;
  } else {
    os << " children=[";
    for (std::size_t i = 0; i < c.kids.size(); ++i) {
      if (i) os << ", ";
      os << "#" << i << " ";
      showValue(c.kids[i], os);
    }
    os << "]";
  }
  return os.str();
}

// --- The reference model.

// How a send settles. A call that breaks because its incarnation restarts (or
// waits for a paused restart) is told `disconnected` with a reason saying
// retry is safe; one that breaks because the child is stopped for good is told
// `disconnected` without it.
enum class Out { pending, value, retry, disconnected, failed, other };

struct Expect {
  Out out = Out::pending;
  std::int64_t value = 0;  // for Out::value (0 for void)
};

struct ChildModel {
  enum class St { running, restarting, stopped, removed };
  std::string id;
  Restart restart = Restart::permanent;
  CrashOn crash_on = CrashOn::any_exception;
  bool dynamic = false;
  St st = St::running;
  std::int64_t incarnation = 1;
  // Crashes of this child that called for its restart (the implementation's
  // count, which the header leaves open: also the crash that made the
  // supervisor give up or back off, not a permanent child finishing, not a
  // restart with a sibling, not restart_child).
  std::int64_t restarts = 0;
  std::int64_t counter = 0;
  std::vector<int> in_flight;                // sends pending on the current incarnation
  std::vector<std::pair<int, bool>> queued;  // (send, is slow) waiting in the slot
};

const char* to_cstr(ChildModel::St s) {
  switch (s) {
    case ChildModel::St::running: return "running";
    case ChildModel::St::restarting: return "restarting";
    case ChildModel::St::stopped: return "stopped";
    case ChildModel::St::removed: return "removed";
  }
  return "?";
}

struct Model {
  using St = ChildModel::St;
  enum class Sup { running, backoff, failed, stopped };

  Strategy strategy;
  int intensity;
  std::int64_t period;
  std::optional<std::int64_t> backoff;
  Sup st = Sup::running;
  std::int64_t now = 0;  // ms
  std::int64_t backoff_due = 0;
  std::deque<std::int64_t> window;  // restart times within the period
  // Supervisor::restarts(): restarts that passed the intensity check (the
  // implementation's count; restarts after a backoff and restart_child are
  // not counted).
  std::int64_t total = 0;
  int next_dynamic = 1;
  std::vector<ChildModel> kids;  // in start order; index = the test's handle
  std::map<int, Expect> expect;  // by send

  explicit Model(const Config& c)
      : strategy(c.strategy), intensity(c.intensity), period(c.period_ms), backoff(c.backoff_ms) {}

  static const char* name(Sup s) {
    switch (s) {
      case Sup::running: return "running";
      case Sup::backoff: return "backoff";
      case Sup::failed: return "failed";
      case Sup::stopped: return "stopped";
    }
    return "?";
  }

  void add(std::string id, KidSpec k, bool dynamic) {
    ChildModel c;
    c.id = std::move(id);
    c.restart = k.restart;
    c.crash_on = k.crash_on;
    c.dynamic = dynamic;
    kids.push_back(std::move(c));
  }

  // An incarnation ends: what is in flight on it breaks.
  void end_life(ChildModel& c, Out why) {
    for (int s : c.in_flight) expect[s] = {why};
    c.in_flight.clear();
  }
  void start_life(ChildModel& c) {
    ++c.incarnation;
    c.counter = 0;
    c.st = St::running;
    for (auto [s, slow] : c.queued) {
      if (slow)
        c.in_flight.push_back(s);
      else
        expect[s] = {Out::value, ++c.counter};
    }
    c.queued.clear();
  }
  void stop_for_good(ChildModel& c, bool remove) {
    if (c.st == St::stopped || c.st == St::removed) return;
    end_life(c, Out::disconnected);
    for (auto [s, slow] : c.queued) expect[s] = {Out::disconnected};
    c.queued.clear();
    c.st = remove ? St::removed : St::stopped;
  }
  void take_down(ChildModel& c) {
    if (c.st != St::running) return;
    end_life(c, Out::retry);
    c.st = St::restarting;
  }

  // The child at `at` went down and is to be restarted: it and the siblings
  // the strategy names go down; temporary siblings leave.
  void take_down_group(std::size_t at) {
    take_down(kids[at]);
    if (strategy != Strategy::one_for_all && strategy != Strategy::rest_for_one) return;
    std::size_t from = strategy == Strategy::one_for_all ? 0 : at + 1;
    for (std::size_t i = from; i < kids.size(); ++i) {
      if (i == at) continue;
      ChildModel& s = kids[i];
      if (s.st == St::stopped || s.st == St::removed) continue;
      if (s.restart == Restart::temporary)
        stop_for_good(s, true);
      else
        take_down(s);
    }
  }

  void give_up() {
    // Every child stops; their records stay (which_children shows them stopped).
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) stop_for_good(*it, false);
    st = Sup::failed;
  }

  void resume() {
    st = Sup::running;
    window.clear();
    for (auto& c : kids)
      if (c.st == St::restarting) start_life(c);
  }

  // One restart of the supervisor for child `at`.
  void went_down(std::size_t at) {
    if (st == Sup::backoff) {
      take_down_group(at);  // comes back when the backoff ends
      return;
    }
    window.push_back(now);
    while (!window.empty() && window.front() < now - period) window.pop_front();
    if (window.size() > static_cast<std::size_t>(intensity)) {
      if (backoff) {
        st = Sup::backoff;
        backoff_due = now + *backoff;
        take_down_group(at);
        return;
      }
      give_up();
      return;
    }
    ++total;
    take_down_group(at);
    for (auto& c : kids)  // in start order
      if (c.st == St::restarting) start_life(c);
  }

  void crashed(std::size_t at) {
    ChildModel& c = kids[at];
    if (c.restart == Restart::temporary) {
      stop_for_good(c, true);
      return;
    }
    ++c.restarts;
    went_down(at);
  }

  void finished(std::size_t at) {
    ChildModel& c = kids[at];
    if (c.restart != Restart::permanent) {
      stop_for_good(c, c.dynamic || c.restart == Restart::temporary);
      return;
    }
    went_down(at);
  }

  void advance(std::int64_t ms) {
    now += ms;
    if (st == Sup::backoff && now >= backoff_due) resume();
  }
};

// --- The real thing.

}  // namespace
}  // namespace vatic
