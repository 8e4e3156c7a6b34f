// The end of a run and the invariants checked there (sim_program.h): every
// answer settles, nothing breaks without a cause, and a quiet net has empty
// tables. With a hostile vat (sim_hostile.h), also: no host keeps more of its
// provisions than max_provisions, and they are gone by provision_ttl once it
// stops (spec/captp.md 11.8, H14), before it leaves and the tables empty.
#include "tests/sim/sim_world.h"

namespace vatic::sim::internal {

std::string Program::check_tables() {
  std::string out;
  handoffs_ = handoff_fallbacks_ = 0;  // the last check's counts are the outcome's
  for (std::size_t i = 0; i < net_->size(); ++i) {
    SimVat& v = net_->at(i);
    if (!v.up()) continue;
    for (auto& s : v.node->sessions()) {
      auto& t = s.stats;
      if (t.exports || t.imports || t.questions || t.answers || t.embargoes)
        out += fmt::format(" v{}: session with {}: exports {} imports {} questions {} answers {} embargoes {};", i,
                           s.peer.to_text().substr(0, 8), t.exports, t.imports, t.questions, t.answers, t.embargoes);
      // spec/captp.md 11: a provision or a waiting accept outlives nothing
      // that made it.
      if (t.provisions || t.waiting_accepts)
        out += fmt::format(" v{}: session with {}: provisions {} waiting accepts {};", i, s.peer.to_text().substr(0, 8),
                           t.provisions, t.waiting_accepts);
      handoffs_ += t.handoffs;
      handoff_fallbacks_ += t.handoff_fallbacks;
    }
  }
  if (alive_ != 0) out += fmt::format(" {} objects alive;", alive_);
  return out;
}

void Program::end_phase() {
  trace_.add("end: every promise gets an outcome");
  stopped_ = true;  // operations still queued in the vats do nothing now
  auto all_settled = [this] {
    for (auto& st : state_)
      for (auto& c : st.calls)
        if (!c.dropped && c.pending()) return false;
    return true;
  };
  // Promises exported pending are given an outcome, again and again: a call
  // still in flight can make a new one after a sweep.
  bool settled = false;
  for (int round = 0; round < 120 && !settled; ++round) {
    for (std::size_t i = 0; i < net_->size(); ++i) {
      if (!net_->at(i).up()) continue;
      net_->at(i).vat->post([this, i] {
        VatState& st = state_[i];
        for (auto& r : st.resolvers) r.resolver.reject(Error{ErrorKind::failed, "sim: end"});
        st.resolvers.clear();
        for (auto& [r, value] : st.numbers) r.resolve(value);
        st.numbers.clear();
      });
    }
    settled = net_->settle(all_settled, std::chrono::milliseconds(5), std::chrono::seconds(1));
  }
  if (!settled) {
    for (auto& st : state_)
      for (auto& c : st.calls)
        if (!c.dropped && c.pending()) {
          fail(fmt::format("call {} ({} from v{} on slot {}) never settled: lost", c.msg, c.kind, c.vat, c.slot));
          break;
        }
  }
  if (!failure_.empty()) return;
  bool faults = net_->faults() > 0;
  for (auto& st : state_)
    for (auto& c : st.calls) {
      if (c.dropped) continue;
      std::optional<Error> e = c.error();
      if (!e) {
        if (delivered_[c.msg] != 1)
          return fail(fmt::format("call {} ({}) answered but delivered {} times", c.msg, c.kind, delivered_[c.msg]));
        if (c.expect && c.number && c.number() != c.expect)
          return fail(fmt::format("call {} ({}) answered {} where {} was sent", c.msg, c.kind, c.number().value_or(-1),
                                  *c.expect));
        continue;
      }
      // The program's own errors, and the cycles of promises it can make
      // (a promise resolved, through others, to itself breaks: model.md).
      bool ours =
          e->reason.find("sim: ") != std::string::npos || e->reason.find("cycle of promises") != std::string::npos;
      if (std::string broken = ours ? "" : check_guard(c, *e); !broken.empty()) return fail(broken);
      bool legit = ours || e->kind == ErrorKind::overloaded || (faults && e->kind == ErrorKind::disconnected);
      if (!legit)
        return fail(
            fmt::format("call {} ({} from v{}) broke without a cause: {}", c.msg, c.kind, c.vat, to_string(*e)));
    }

  if (std::string broken = check_ledgers(); !broken.empty()) return fail(broken);
  if (hostile_) {
    end_hostile();
    if (!failure_.empty()) return;
  }

  trace_.add("end: everything dropped");
  for (std::size_t i = 0; i < net_->size(); ++i) {
    if (!net_->at(i).up()) continue;
    net_->at(i).vat->post([this, i] {
      state_[i] = VatState{};
      state_[i].dropped = true;
    });
  }
  // The roots stay (each node holds its own); the references to them go.
  std::string left;
  bool quiet = net_->settle(
      [&] {
        left = check_tables();
        return left.empty();
      },
      std::chrono::milliseconds(20), std::chrono::seconds(60));
  if (!quiet) fail("quiet but not empty:" + left);
}

void Program::add_hostile(std::uint64_t randomness_seed) {
  // Its own chooser: what it does moves none of the program's draws.
  Hostile::Hooks hooks{
      .fail = [this](std::string why) { fail(std::move(why)); },
      .new_msg = [this] { return new_msg_id(); },
      .new_slot = [this] { return new_slot_id(); },
      .forbid = [this](std::uint64_t msg) { forbidden_.insert(msg); },
      .misdirected = [this](std::uint64_t msg, std::size_t host) { misdirected_msgs_[msg] = host; },
  };
  hostile_ = std::make_unique<Hostile>(*net_, trace_, randomness_seed ^ 0x6b6f7374696c65ull, std::move(hooks));
  hostile_->attach_all();
  net_->settle([this] { return hostile_->settled(); }, std::chrono::microseconds(100), std::chrono::seconds(20));
  // Each honest vat holds the hostile vat's root: the program calls it and
  // passes it references like any other (honest introductions to it).
  for (std::size_t v = 0; v < net_->size(); ++v) {
    if (!net_->at(v).up()) continue;
    Ref<Object> r = net_->outsider_bootstrap(v, hostile_->id());
    if (!r) continue;
    state_[v].slots.push_back(Slot{new_slot_id(), from_value<Ref<Actor>>(to_value(r)), 0});
  }
}

void Program::check_hostile_provisions() {
  if (!hostile_) return;
  for (std::size_t c = 0; c < net_->size(); ++c) {
    if (!net_->at(c).up()) continue;
    for (const captp::SessionInfo& i : net_->at(c).node->sessions())
      if (i.peer == hostile_->id() && i.stats.provisions > kHostileMaxProvisions)
        fail(fmt::format("v{} keeps {} provisions of the hostile vat, more than max_provisions {} (spec/captp.md 11.8)",
                         c, i.stats.provisions, kHostileMaxProvisions));
  }
}

void Program::end_hostile() {
  // spec/captp.md H14: a provision ends by its deadline at the latest. The
  // hostile vat stops acting and stays: its provisions must go anyway.
  hostile_->stop();
  trace_.add("end: the hostile vat's provisions expire");
  std::string left;
  Duration ttl = net_->config().node.session.provision_ttl;
  bool expired = net_->settle(
      [&] {
        left.clear();
        for (std::size_t c = 0; c < net_->size(); ++c) {
          if (!net_->at(c).up()) continue;
          for (const captp::SessionInfo& i : net_->at(c).node->sessions())
            if (i.peer == hostile_->id() && i.stats.provisions > 0)
              left += fmt::format(" v{}: {} provisions;", c, i.stats.provisions);
        }
        // And every provide, accept and call it made is answered (H10, H14).
        left += hostile_->unanswered();
        return left.empty();
      },
      std::chrono::milliseconds(20), ttl + std::chrono::seconds(1));
  if (!expired) return fail("the hostile vat's provisions or questions outlived provision_ttl:" + left);
  hostile_->leave();
  net_->quiesce();
}

}  // namespace vatic::sim::internal
