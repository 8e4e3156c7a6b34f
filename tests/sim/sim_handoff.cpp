// What three-party handoff (spec/captp.md 11) adds to the random programs:
// - the partial mesh: only some pairs of vats are joined, so a reference to
//   a vat its holder was never joined to arrives by an introduction, and is
//   reached by dialling the host (H6 3) or through the introducer's proxy;
// - introductions on purpose: half the passes pick a reference the passing
//   vat reaches at another vat than the target's;
// - onward handoff (11.7): a reference just received in an introduction is
//   sometimes passed on at once to a fourth vat, while it is still the
//   pending handoff promise R (it goes as senderPromise);
// - the introducer's crash mid-handoff: right after it sent an
//   introduction, right after its recipient got one, or at a drawn step
//   while a host keeps a provision of its;
// - the invariant: once a handoff completed, the introducer's death
//   does not break A-C references. Whenever a vat B crashes, every reference
//   that goes straight to its host C (Node::route names C, and the last call
//   on it was delivered at an object of C's) gets a guard: a later call on it
//   that involves no other vat must answer, unless A or C crashed or a link
//   between them was cut since (sim_oracle.cpp checks it at the end).
#include "tests/sim/sim_world.h"

namespace vatic::sim::internal {

void Program::draw_mesh() {
  std::size_t n = net_->size();
  if (!config_.handoff) {
    for (std::size_t a = 0; a < n; ++a)
      for (std::size_t b = a + 1; b < n; ++b) mesh_.insert({a, b});
    return;
  }
  // A random spanning tree, then each other pair by chance.
  for (std::size_t b = 1; b < n; ++b) mesh_.insert({choose_.below(b), b});
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = a + 1; b < n; ++b)
      if (!mesh_.contains({a, b}) && choose_.chance(30)) mesh_.insert({a, b});
  std::string pairs;
  for (auto [a, b] : mesh_) pairs += fmt::format(" {}-{}", a, b);
  trace_.add("config mesh" + pairs);
}

std::optional<std::size_t> Program::route(std::size_t v, const Ref<Actor>& r) const {
  std::optional<VatId> to = net_->at(v).node->route(r);
  if (!to) return std::nullopt;
  for (std::size_t i = 0; i < net_->size(); ++i)
    if (net_->at(i).identity->id() == *to) return i;
  return std::nullopt;
}

Slot* Program::introducible(std::size_t v, const Slot& target) {
  std::optional<std::size_t> a = route(v, target.ref);
  // The hostile vat (sim_hostile.h) is no vat of the net's: any reference
  // to another vat's object introduces it (to a host it then accepts at,
  // and replays at).
  bool to_hostile = !a && hostile_ && net_->at(v).node->route(target.ref) == hostile_->id();
  if (!a && !to_hostile) return nullptr;
  std::vector<Slot*> out;
  for (Slot& o : state_[v].slots)
    if (auto c = route(v, o.ref); c && (to_hostile ? *c != v : *c != *a)) out.push_back(&o);
  return out.empty() ? nullptr : choose_.pick(out);
}

void Program::note_introduction(std::size_t v, std::uint64_t msg, const Ref<Actor>& target, const Ref<Actor>& arg) {
  if (!config_.handoff) return;
  std::optional<std::size_t> a = route(v, target), c = route(v, arg);
  if (!a || !c || *a == *c) return;
  ++introductions_made_;
  introductions_[msg] = Introduction{v, *c};
  trace_.add(fmt::format("v{} introduces v{} to v{}'s object in call {}", v, *a, *c, msg));
  if (armed_ == Arm::on_send) {
    armed_ = Arm::none;
    crash_due_ = v;
  }
}

void Program::received(std::size_t vat, std::uint64_t msg, const Ref<Actor>* kept) {
  if (auto m = misdirected_msgs_.find(msg); m != misdirected_msgs_.end() && kept) {
    // A descriptor of the hostile vat's whose provision names another vat
    // (sim_hostile.h): the new slot's calls must never reach its host.
    misdirected_slots_[state_[vat].slots.back().id] = m->second;
    misdirected_msgs_.erase(m);
  }
  auto it = introductions_.find(msg);
  if (it == introductions_.end()) return;
  Introduction in = it->second;
  introductions_.erase(it);
  if (armed_ == Arm::on_receipt) {
    armed_ = Arm::none;
    crash_due_ = in.introducer;
  }
  if (!kept || stopped_ || !choose_.chance(40)) return;
  // Onward (spec/captp.md 11.7): to a slot that reaches a fourth vat if
  // there is one, else to any; it travels as the promise it still is.
  VatState& st = state_[vat];
  std::vector<Slot*> fourth, any;
  for (Slot& s : st.slots) {
    if (s.ref == *kept) continue;
    any.push_back(&s);
    if (auto d = route(vat, s.ref); d && *d != vat && *d != in.introducer && *d != in.host) fourth.push_back(&s);
  }
  if (any.empty()) return;
  Slot& t = fourth.empty() ? *choose_.pick(any) : *choose_.pick(fourth);
  Call c;
  c.msg = new_msg_id();
  c.vat = vat;
  c.slot = t.id;
  c.kind = "keep";
  ++calls_;
  ++onward_;
  trace_.add(fmt::format("v{} passes on at once what call {} brought: keep call {} slot {} seq {}", vat, msg, c.msg,
                         t.id, t.seq + 1));
  arg_deps_[c.msg] = st.slots.back().deps;
  auto m = static_cast<std::int64_t>(c.msg), sl = static_cast<std::int64_t>(t.id);
  st.calls.push_back(track(t.ref.send<&Actor::keep>(m, sl, ++t.seq, *kept), std::move(c)));
}

void Program::cut(std::size_t a, std::size_t b) {
  bump(a, b);
  net_->cut(a, b);
}

void Program::crash(std::size_t v) {
  if (!net_->at(v).up()) return;
  if (config_.handoff) guard_direct(v);
  for (std::size_t o = 0; o < net_->size(); ++o)
    if (o != v) bump(v, o);
  // What the program holds in that vat dies with it.
  state_[v] = VatState{};
  crash_host(v);
  net_->crash(v);
}

void Program::guard_direct(std::size_t b) {
  for (std::size_t a = 0; a < net_->size(); ++a) {
    if (a == b || !net_->at(a).up()) continue;
    captp::Node& node = *net_->at(a).node;
    for (Slot& s : state_[a].slots) {
      std::optional<std::size_t> c = route(a, s.ref);
      if (!c || *c == b || *c == a || !net_->at(*c).up()) continue;
      // The object is C's own (not a proxy C holds of B's): the last call
      // on the slot was delivered there.
      auto last = slot_last_.find(s.id);
      if (last == slot_last_.end() || actor_vat_[last->second.second] != *c) continue;
      // And every session of A with C is sound now.
      bool sound = true, any = false;
      for (const captp::SessionInfo& i : node.sessions())
        if (i.peer == net_->at(*c).identity->id()) {
          any = true;
          sound = sound && i.open && !net_->link_faulted(i.transport);
        }
      if (!any || !sound) continue;
      s.guard = Guard{*c, b, pair_faults(a, *c)};
      trace_.add(fmt::format("v{} slot {} goes straight to v{}: guarded against v{}'s crash", a, s.id, *c, b));
    }
  }
}

void Program::arm_introducer_crash() {
  const Arm modes[] = {Arm::on_send, Arm::on_receipt, Arm::while_provided};
  armed_ = modes[choose_.below(3)];
  armed_countdown_ = choose_.below(30);
  trace_.add(fmt::format("armed: crash an introducer ({})", static_cast<int>(armed_)));
}

void Program::crash_introducer_if_due() {
  if (armed_ == Arm::while_provided && !crash_due_) {
    // An introducer whose provision a host keeps: a provide of its arrived
    // and was not yet honoured, expired or cancelled (H8, H14).
    std::vector<std::size_t> providers;
    for (std::size_t c = 0; c < net_->size(); ++c) {
      if (!net_->at(c).up()) continue;
      for (const captp::SessionInfo& i : net_->at(c).node->sessions())
        if (i.stats.provisions > 0)
          for (std::size_t b = 0; b < net_->size(); ++b)
            if (net_->at(b).up() && net_->at(b).identity->id() == i.peer) providers.push_back(b);
    }
    if (!providers.empty() && armed_countdown_-- == 0) {
      armed_ = Arm::none;
      crash_due_ = choose_.pick(providers);
    }
  }
  if (!crash_due_) return;
  std::size_t b = *std::exchange(crash_due_, std::nullopt);
  if (!net_->at(b).up()) return;
  trace_.add(fmt::format("crash introducer v{}", b));
  ++introducer_crashes_;
  crash(b);
}

std::string Program::check_guard(const Call& c, const Error& e) const {
  if (!c.guard || e.kind == ErrorKind::overloaded) return {};
  if (pair_faults(c.vat, c.guard->host) != c.guard->epoch) return {};
  return fmt::format(
      "call {} ({} from v{} on slot {}) went straight to v{} when introducer v{} crashed, and broke with no fault "
      "between them: {}",
      c.msg, c.kind, c.vat, c.slot, c.guard->host, c.guard->introducer, to_string(e));
}

}  // namespace vatic::sim::internal
