#include "tests/sim/sim_program.h"

#include "tests/sim/sim_world.h"

namespace vatic::sim {

namespace internal {

std::uint32_t Program::draw_op() {
  // Weighted: plain traffic is the bulk, faults are rare.
  struct W {
    std::uint32_t op;
    std::uint32_t weight;
  };
  static constexpr W table[] = {{op_ping, 30},     {op_spawn, 10},  {op_field, 6},           {op_pass, 10},
                                {op_keep, 10},     {op_later, 8},   {op_resolve, 10},        {op_local_promise, 6},
                                {op_drop, 6},      {op_forget, 4},  {op_promise_value, 6},   {op_boom, 2},
                                {op_burst, 2},     {op_cut, 1},     {op_crash, 1},           {op_rejoin, 2},
                                {op_partition, 1}, {op_deposit, 6}, {op_crash_introducer, 2}};
  // Operations of handoff only with it: the runs without draw as before.
  auto on = [&](const W& w) { return (config_.ops & w.op) && (config_.handoff || w.op != op_crash_introducer); };
  std::uint32_t total = 0;
  for (auto& w : table)
    if (on(w)) total += w.weight;
  if (total == 0) return 0;
  std::uint64_t r = choose_.below(total);
  for (auto& w : table) {
    if (!on(w)) continue;
    if (r < w.weight) return w.op;
    r -= w.weight;
  }
  return 0;
}

void Program::post_op() {
  std::uint32_t op = draw_op();
  if (!op) return;
  if (op & op_faults) return fault(op);
  std::vector<std::size_t> up;
  for (std::size_t i = 0; i < net_->size(); ++i)
    if (net_->at(i).up() && !state_[i].slots.empty()) up.push_back(i);
  if (up.empty()) return;
  std::size_t v = choose_.pick(up);
  std::uint32_t incarnation = net_->at(v).incarnation;
  net_->at(v).vat->post([this, v, op, incarnation] {
    if (!stopped_ && net_->at(v).incarnation == incarnation) run_op(v, op);
  });
}

void Program::run_op(std::size_t v, std::uint32_t op) {
  VatState& st = state_[v];
  if (st.slots.empty()) return;
  Slot& s = choose_.pick(st.slots);
  auto header = [&](std::uint64_t msg) {
    return std::tuple{static_cast<std::int64_t>(msg), static_cast<std::int64_t>(s.id), ++s.seq};
  };
  auto base = [&](const char* kind) {
    Call c;
    c.msg = new_msg_id();
    c.vat = v;
    c.slot = s.id;
    c.kind = kind;
    ++calls_;
    trace_.add(fmt::format("v{} {} call {} slot {} seq {}", v, kind, c.msg, s.id, s.seq + 1));
    // Calls that involve no vat but the slot's host keep its guard.
    std::string_view k = kind;
    if (s.guard && (k == "ping" || k == "spawn" || k == "pair" || k == "boom" || k == "deposit" || k == "value_of")) {
      c.guard = s.guard;
      ++guarded_calls_;
    }
    return c;
  };
  Deps base_deps = s.deps;
  auto add_slot = [&](Ref<Actor> r, Deps deps) {
    st.slots.push_back(Slot{new_slot_id(), std::move(r), 0, std::move(deps)});
    trace_.add(fmt::format("v{} new slot {}", v, st.slots.back().id));
  };
  Deps other_deps;
  auto other = [&]() -> Ref<Actor> {
    Slot& o = choose_.pick(st.slots);
    trace_.add(fmt::format("v{} passes slot {}", v, o.id));
    other_deps = o.deps;
    return o.ref;
  };
  // With handoff, most passes pick a reference that this vat's calls
  // reach at another vat than the target's: an introduction (spec/captp.md 11).
  auto pass_arg = [&]() -> Ref<Actor> {
    if (config_.handoff && choose_.chance(75))
      if (Slot* o = introducible(v, s)) {
        trace_.add(fmt::format("v{} introduces slot {}", v, o->id));
        other_deps = o->deps;
        return o->ref;
      }
    return other();
  };
  switch (op) {
    case op_deposit: {
      Call c = base("deposit");
      auto [m, sl, sq] = header(c.msg);
      c.expect = m;
      st.calls.push_back(track(s.ref.send<&Actor::deposit>(m, sl, sq), std::move(c)));
      break;
    }
    case op_ping: {
      Call c = base("ping");
      auto [m, sl, sq] = header(c.msg);
      c.expect = m;
      st.calls.push_back(track(s.ref.send<&Actor::ping>(m, sl, sq), std::move(c)));
      break;
    }
    case op_burst: {
      // Many calls at once, half of them calling back into this vat.
      std::size_t n = 2 + choose_.below(60);
      Ref<Actor> back = other();
      for (std::size_t k = 0; k < n; ++k) {
        bool relay = choose_.chance(50);
        Call c = base(relay ? "relay" : "ping");
        auto [m, sl, sq] = header(c.msg);
        if (relay) {
          st.calls.push_back(track(s.ref.send<&Actor::relay>(m, sl, sq, back), std::move(c)));
        } else {
          c.expect = m;
          st.calls.push_back(track(s.ref.send<&Actor::ping>(m, sl, sq), std::move(c)));
        }
      }
      break;
    }
    case op_spawn: {
      Call c = base("spawn");
      auto [m, sl, sq] = header(c.msg);
      auto p = s.ref.send<&Actor::spawn>(m, sl, sq);
      Ref<Actor> r = as_ref(p);
      st.calls.push_back(track(std::move(p), std::move(c)));
      add_slot(std::move(r), base_deps);
      break;
    }
    case op_field: {
      Call c = base("pair");
      auto [m, sl, sq] = header(c.msg);
      auto p = s.ref.send<&Actor::pair>(m, sl, sq);
      Ref<Actor> r = field<Actor>(p, "left");
      st.calls.push_back(track(std::move(p), std::move(c)));
      add_slot(std::move(r), base_deps);
      break;
    }
    case op_pass: {
      Ref<Actor> arg = pass_arg();
      Call c = base("pass");
      note_introduction(v, c.msg, s.ref, arg);
      auto [m, sl, sq] = header(c.msg);
      auto p = s.ref.send<&Actor::pass>(m, sl, sq, arg);
      Ref<Actor> r = as_ref(p);
      st.calls.push_back(track(std::move(p), std::move(c)));
      Deps d = base_deps;
      d.insert(other_deps.begin(), other_deps.end());
      add_slot(std::move(r), std::move(d));
      break;
    }
    case op_keep: {
      Ref<Actor> arg = pass_arg();
      Call c = base("keep");
      note_introduction(v, c.msg, s.ref, arg);
      auto [m, sl, sq] = header(c.msg);
      arg_deps_[c.msg] = other_deps;
      st.calls.push_back(track(s.ref.send<&Actor::keep>(m, sl, sq, arg), std::move(c)));
      break;
    }
    case op_later: {
      Call c = base("later");
      auto [m, sl, sq] = header(c.msg);
      auto p = s.ref.send<&Actor::later>(m, sl, sq);
      Ref<Actor> r = as_ref(p);
      Deps d = base_deps;
      d.insert(c.msg);
      st.calls.push_back(track(std::move(p), std::move(c)));
      add_slot(std::move(r), std::move(d));
      break;
    }
    case op_local_promise: {
      auto [p, r] = make_promise<Ref<Actor>>();
      std::uint64_t id = new_msg_id();
      trace_.add(fmt::format("v{} local promise {}", v, id));
      add_slot(as_ref(p), Deps{id});
      st.resolvers.push_back(Pending{std::move(r), id});
      break;
    }
    case op_resolve: {
      if (!st.numbers.empty() && choose_.chance(30)) {
        std::size_t k = choose_.below(st.numbers.size());
        auto [r, value] = std::move(st.numbers[k]);
        st.numbers.erase(st.numbers.begin() + static_cast<std::ptrdiff_t>(k));
        trace_.add(fmt::format("v{} resolves a number promise to {}", v, value));
        r.resolve(value);
        break;
      }
      if (st.resolvers.empty()) break;
      std::size_t k = choose_.below(st.resolvers.size());
      Pending r = std::move(st.resolvers[k]);
      st.resolvers.erase(st.resolvers.begin() + static_cast<std::ptrdiff_t>(k));
      std::size_t t = choose_.below(st.slots.size());
      if (choose_.chance(10) || waits_on(st.slots[t].deps, r.id)) {
        trace_.add(fmt::format("v{} rejects promise {}", v, r.id));
        r.resolver.reject(Error{ErrorKind::failed, "sim: rejected"});
      } else {
        trace_.add(fmt::format("v{} resolves promise {} to slot {}", v, r.id, st.slots[t].id));
        resolved_to_[r.id] = st.slots[t].deps;
        r.resolver.resolve(st.slots[t].ref);
      }
      break;
    }
    case op_drop: {
      std::size_t k = choose_.below(st.slots.size());
      trace_.add(fmt::format("v{} drops slot {}", v, st.slots[k].id));
      st.slots.erase(st.slots.begin() + static_cast<std::ptrdiff_t>(k));
      break;
    }
    case op_forget: {
      if (st.calls.empty()) break;
      Call& c = choose_.pick(st.calls);
      if (c.dropped) break;
      trace_.add(fmt::format("v{} forgets the answer of call {}", v, c.msg));
      c.dropped = true;
      c.pending = nullptr;
      c.error = nullptr;
      c.number = nullptr;
      break;
    }
    case op_promise_value: {
      // A Promise<int64> as the argument, pending, fulfilled or broken; the
      // answer is that promise again, so it travels both ways.
      Call c = base("value_of");
      auto [m, sl, sq] = header(c.msg);
      Promise<std::int64_t> arg;
      std::uint64_t how = choose_.below(3);
      if (how == 0) {
        auto [p, r] = make_promise<std::int64_t>();
        arg = p;
        c.expect = m * 7;
        st.numbers.emplace_back(std::move(r), m * 7);
      } else if (how == 1) {
        arg = Promise<std::int64_t>::resolved(m * 7);
        c.expect = m * 7;
      } else {
        arg = Promise<std::int64_t>::broken(Error{ErrorKind::failed, "sim: broken value"});
      }
      st.calls.push_back(track(s.ref.send<&Actor::value_of>(m, sl, sq, arg), std::move(c)));
      break;
    }
    case op_boom: {
      Call c = base("boom");
      auto [m, sl, sq] = header(c.msg);
      st.calls.push_back(track(s.ref.send<&Actor::boom>(m, sl, sq), std::move(c)));
      break;
    }
    default: break;
  }
}

void Program::fault(std::uint32_t op) {
  std::size_t n = net_->size();
  std::size_t a = choose_.below(n), b = choose_.below(n);
  switch (op) {
    case op_cut:
      if (a != b) cut(a, b);
      break;
    case op_crash: crash(a); break;
    case op_crash_introducer: arm_introducer_crash(); break;
    case op_partition: {
      // Each vat on one side or the other; every link across is cut.
      std::vector<bool> side(n);
      for (std::size_t i = 0; i < n; ++i) side[i] = choose_.chance(50);
      trace_.add("partition");
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j)
          if (side[i] != side[j]) cut(i, j);
      break;
    }
    case op_rejoin:
      if (choose_.chance(30)) {
        // Heal: every pair of live vats without a link is joined again.
        trace_.add("heal");
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = i + 1; j < n; ++j)
            if (in_mesh(i, j) && net_->at(i).up() && net_->at(j).up() && !net_->linked(i, j)) join(i, j, false);
      } else if (!net_->at(a).up()) {
        net_->restart(a);
        for (std::size_t o = 0; o < n; ++o)
          if (o != a && in_mesh(a, o) && net_->at(o).up()) join(a, o, false);
      } else if (a != b && in_mesh(a, b) && net_->at(b).up() && !net_->linked(a, b)) {
        join(a, b, (config_.ops & op_crossed) && choose_.chance(30));
      }
      break;
    default: break;
  }
}

Outcome Program::run() {
  try {
    for (std::size_t step = 0; step < config_.steps && failure_.empty(); ++step) {
      if (choose_.chance(30))
        post_op();
      else
        net_->step();
      if (config_.handoff) crash_introducer_if_due();
      if (hostile_) {
        hostile_->act();
        check_hostile_provisions();
      }
    }
    if (failure_.empty()) end_phase();
  } catch (const Livelock& e) {
    fail(e.what());
  }
  ending_ = true;
  Outcome o;
  o.ok = failure_.empty();
  o.failure = failure_;
  o.hash = trace_.hash();
  o.events = trace_.events();
  o.trace_tail = trace_.tail(60);
  if (!o.ok) o.trace_tail += "state at the end:\n" + net_->describe_state();
  o.calls = calls_;
  o.delivered = deliveries_;
  o.faults = net_->faults();
  o.work = net_->work();
  o.handoffs = handoffs_;
  o.handoff_fallbacks = handoff_fallbacks_;
  o.dials = net_->dials();
  o.introductions = introductions_made_;
  o.onward = onward_;
  o.introducer_crashes = introducer_crashes_;
  o.guarded_calls = guarded_calls_;
  if (hostile_) {
    const Hostile::Counts& h = hostile_->counts();
    o.hostile_provides = h.provides;
    o.hostile_wrong_accepts = h.wrong_accepts;
    o.hostile_replays = h.replays;
    o.hostile_refused = h.refused;
    o.hostile_descriptors = h.descriptors;
    o.hostile_tickets = h.tickets;
  }
  return o;
}

}  // namespace internal

using internal::Program;

Outcome run_program(Chooser& choose, std::uint64_t randomness_seed, const ProgramConfig& config) {
  try {
    Program p(choose, randomness_seed, config);
    return p.run();
  } catch (const std::exception& e) {
    Outcome o;
    o.ok = false;
    o.failure = fmt::format("exception escaped the run: {}", e.what());
    return o;
  }
}

Outcome run_seed(std::uint64_t seed, const ProgramConfig& config) {
  SeededChooser choose(seed);
  return run_program(choose, seed, config);
}

ProgramConfig shrink(std::uint64_t seed, ProgramConfig config) {
  // Fewer steps first (the same seed draws the same prefix), by halving then
  // by tenths; then each operation kind off in turn.
  auto fails = [&](const ProgramConfig& c) { return !run_seed(seed, c).ok; };
  for (std::size_t step = config.steps / 2; step > 0; step /= 2) {
    while (config.steps > step) {
      ProgramConfig c = config;
      c.steps -= step;
      if (!fails(c)) break;
      config = c;
    }
  }
  for (std::uint32_t bit = 1; bit < op_all; bit <<= 1) {
    if (!(config.ops & bit)) continue;
    ProgramConfig c = config;
    c.ops &= ~bit;
    if (fails(c)) config = c;
  }
  return config;
}

namespace {
const char* const kOpNames[] = {"ping",          "spawn",   "field",         "pass",    "keep",
                                "later",         "resolve", "local_promise", "drop",    "forget",
                                "promise_value", "boom",    "burst",         "cut",     "crash",
                                "rejoin",        "crossed", "partition",     "deposit", "crash_introducer"};
}  // namespace

std::string describe_ops(std::uint32_t ops) {
  std::string out;
  for (std::uint32_t i = 0; i < std::size(kOpNames); ++i)
    if (ops & (1u << i)) out += (out.empty() ? "" : ",") + std::string(kOpNames[i]);
  return out;
}

std::uint32_t parse_ops(const std::string& names) {
  std::uint32_t out = 0;
  std::size_t at = 0;
  while (at <= names.size()) {
    std::size_t comma = names.find(',', at);
    std::string name = names.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    std::uint32_t bit = 0;
    for (std::uint32_t i = 0; i < std::size(kOpNames); ++i)
      if (name == kOpNames[i]) bit = 1u << i;
    if (!bit) return 0;
    out |= bit;
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

}  // namespace vatic::sim
