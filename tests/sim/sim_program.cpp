#include "tests/sim/sim_program.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/stored_value.h"
#include "vat/vatic.h"

namespace vatic::sim {

namespace {

class Program;

// The persistent object of the simulation: one ledger per vat. A deposit
// writes three keys in one call; all three or none may be durable.
class SimLedger : public persist::Persistent {
 public:
  std::int64_t deposit(std::int64_t amount) {
    balance_.set(balance_.get() + amount);
    count_.set(count_.get() + 1);
    kv().put(fmt::format("log/{:012}", amount), amount);
    return amount;
  }
  VATIC_METHODS(SimLedger, deposit)

 private:
  persist::Cell<std::int64_t> balance_{this, "balance", 0};
  persist::Cell<std::int64_t> count_{this, "count", 0};
};
constexpr const char* kLedgerId = "ledger/ledger";  // kind/key

// The one object kind of the simulation. Every method takes the call's header
// (message id, the caller's slot, the slot's sequence number) and reports the
// delivery to the oracle before doing anything else.
class Actor : public Object {
 public:
  Actor(Program* p, std::size_t vat, std::uint64_t id, bool root);
  ~Actor() override;

  std::int64_t ping(std::int64_t msg, std::int64_t slot, std::int64_t seq);
  Ref<Actor> spawn(std::int64_t msg, std::int64_t slot, std::int64_t seq);
  Value pair(std::int64_t msg, std::int64_t slot, std::int64_t seq);
  Ref<Actor> pass(std::int64_t msg, std::int64_t slot, std::int64_t seq, Ref<Actor> r);
  void keep(std::int64_t msg, std::int64_t slot, std::int64_t seq, Ref<Actor> r);
  Promise<Ref<Actor>> later(std::int64_t msg, std::int64_t slot, std::int64_t seq);
  Promise<std::int64_t> value_of(std::int64_t msg, std::int64_t slot, std::int64_t seq, Promise<std::int64_t> p);
  // Answers with the answer of a call back to `r` (the caller, often): the
  // pattern that once deadlocked flow control.
  Promise<std::int64_t> relay(std::int64_t msg, std::int64_t slot, std::int64_t seq, Ref<Actor> r);
  void boom(std::int64_t msg, std::int64_t slot, std::int64_t seq);
  // Deposits `msg` into this vat's persistent ledger; answers with its answer.
  Promise<std::int64_t> deposit(std::int64_t msg, std::int64_t slot, std::int64_t seq);

  VATIC_METHODS(Actor, ping, spawn, pair, pass, keep, later, value_of, relay, boom, deposit)

 private:
  Program* p_;
  std::size_t vat_;
  std::uint64_t id_;
  bool root_;
};

// The promises (by resolver id) a reference waits on, directly or through
// the calls it is the answer of. Resolving a promise to a reference that
// waits on it would make a cycle no vat can see (through pipelined calls),
// which never settles: the program does not write such deadlocks.
using Deps = std::set<std::uint64_t>;

struct Slot {
  std::uint64_t id = 0;
  Ref<Actor> ref;
  std::int64_t seq = 0;
  Deps deps;
};

struct Pending {
  Resolver<Ref<Actor>> resolver;
  std::uint64_t id = 0;
};

struct Call {
  std::uint64_t msg = 0;
  std::size_t vat = 0;
  std::uint64_t slot = 0;
  const char* kind = "";
  std::function<bool()> pending;
  std::function<std::optional<Error>()> error;          // nullopt once fulfilled
  std::function<std::optional<std::int64_t>()> number;  // the answer, for calls answering one
  std::optional<std::int64_t> expect;                   // what it must answer
  bool dropped = false;
};

struct VatState {
  std::vector<Slot> slots;
  std::vector<Pending> resolvers;
  std::vector<std::pair<Resolver<std::int64_t>, std::int64_t>> numbers;  // and the value each will get
  std::vector<Call> calls;
  // The program dropped everything it held here (end phase): a call still in
  // flight that arrives now must not make it hold something again.
  bool dropped = false;
};

template <class T>
Call track(Promise<T> p, Call c) {
  c.pending = [p] { return p.pending(); };
  c.error = [p]() -> std::optional<Error> {
    if (p.is_broken()) return p.error();
    return std::nullopt;
  };
  if constexpr (std::is_same_v<T, std::int64_t>) {
    c.number = [p]() -> std::optional<std::int64_t> {
      if (p.ready()) return p.value();
      return std::nullopt;
    };
  }
  return c;
}

template <class T>
Ref<Actor> as_ref(const Promise<T>& p) {
  return from_value<Ref<Actor>>(to_value(p));
}

class Program {
 public:
  Program(Chooser& choose, std::uint64_t randomness_seed, const ProgramConfig& config)
      : choose_(choose), config_(config) {
    reseed_randomness(randomness_seed);
    trace_.verbose = config.verbose;
    NetConfig nc;
    nc.vats = config.vats ? config.vats : 3 + choose_.below(3);
    // Small bounds make the rare paths common: held calls and refusals at
    // max_answers, rekeying every few frames.
    const std::uint32_t answers[] = {2, 8, 64, 1 << 14};
    nc.node.session.max_answers = answers[choose_.below(4)];
    const std::uint64_t rekey[] = {3, 64, captp::kDefaultRekeyEvery};
    nc.node.channel.rekey_every = rekey[choose_.below(3)];
    nc.max_delay = Duration(static_cast<Duration::rep>(choose_.below(2'000'000)));
    nc.node.session.handoff = config.handoff;
    // Half the runs commit in the next turn, half after a window of sim time
    // in which a crash can fall between an answered deposit and its commit.
    commit_delay_ = choose_.chance(50) ? Duration::zero() : Duration(1 + choose_.below(500'000));
    trace_.add(fmt::format("config vats {} max_answers {} rekey_every {} max_delay {}ns", nc.vats,
                           nc.node.session.max_answers, nc.node.channel.rekey_every, nc.max_delay.count()));
    if (config.handoff) trace_.add("config handoff");
    state_.resize(nc.vats);
    hosts_.resize(nc.vats);
    for (std::size_t i = 0; i < nc.vats; ++i) engines_.push_back(std::make_shared<persist::MemoryEngine>());
    net_ = std::make_unique<Net>(nc, choose_, trace_, [this](SimVat& v) { on_start(v); });
    for (std::size_t a = 0; a < net_->size(); ++a)
      for (std::size_t b = a + 1; b < net_->size(); ++b) join(a, b, (config_.ops & op_crossed) && choose_.chance(30));
  }

  ~Program() {
    // What the program holds belongs to the vats: let it go before they go.
    state_.clear();
    hosts_.clear();
    net_.reset();
  }

  Outcome run();

  // --- The oracle (called from the actors).
  void delivered(std::uint64_t msg, std::uint64_t slot, std::int64_t seq, std::uint64_t actor) {
    ++deliveries_;
    if (delivered_[msg]++ > 0) fail(fmt::format("call {} delivered twice", msg));
    auto [it, fresh] = slot_last_.try_emplace(slot, seq, actor);
    if (!fresh) {
      if (it->second.first >= seq)
        fail(fmt::format("E-order: slot {} delivered seq {} after seq {} (call {})", slot, seq, it->second.first, msg));
      if (it->second.second != actor)
        fail(fmt::format("slot {} delivered at actor {} and at actor {} (call {})", slot, it->second.second, actor,
                         msg));
      it->second = {seq, actor};
    }
    trace_.add(fmt::format("delivered call {} slot {} seq {} at actor {}", msg, slot, seq, actor));
  }
  Promise<std::int64_t> deposit_at(std::size_t vat, std::int64_t amount) {
    deposited_at_[amount] = vat;
    return hosts_.at(vat)->object<SimLedger>("ledger").send<&SimLedger::deposit>(amount);
  }
  std::uint64_t new_actor_id() { return ++actors_; }
  void actor_born() { ++alive_; }
  void actor_died() { --alive_; }
  VatState& state(std::size_t vat) { return state_.at(vat); }
  std::uint64_t new_slot_id() { return ++slots_; }
  std::uint64_t new_msg_id() { return ++msgs_; }
  // What the reference argument of call `msg` waits on (keep's new slot).
  Deps arg_deps(std::int64_t msg) {
    auto it = arg_deps_.find(static_cast<std::uint64_t>(msg));
    if (it == arg_deps_.end()) return {};
    Deps d = std::move(it->second);
    arg_deps_.erase(it);
    return d;
  }
  // Whether a reference with `deps` waits, transitively, on promise `id`.
  bool waits_on(const Deps& deps, std::uint64_t id) const {
    std::vector<std::uint64_t> todo(deps.begin(), deps.end());
    std::set<std::uint64_t> seen;
    while (!todo.empty()) {
      std::uint64_t d = todo.back();
      todo.pop_back();
      if (d == id) return true;
      if (!seen.insert(d).second) continue;
      if (auto it = resolved_to_.find(d); it != resolved_to_.end())
        todo.insert(todo.end(), it->second.begin(), it->second.end());
    }
    return false;
  }
  Trace& trace() { return trace_; }

 private:
  void fail(std::string why) {
    if (failure_.empty()) {
      failure_ = std::move(why);
      trace_.add("FAILED: " + failure_);
    }
  }

  void on_start(SimVat& v) {
    std::size_t i = v.index;
    // A restart finds the ledger's store as the crash left it.
    hosts_[i] = std::make_unique<persist::Host>(*v.vat, engines_[i],
                                                persist::HostOptions{.name = v.name, .commit_delay = commit_delay_});
    hosts_[i]->register_kind<SimLedger>({.name = "ledger", .version = 1});
    auto root = v.vat->make<Actor>(this, i, new_actor_id(), true);
    v.node->set_bootstrap(root);
    state_[i] = VatState{};
    state_[i].slots.push_back(Slot{new_slot_id(), root, 0});
    v.vat->set_log_sink([this, i](const LogEvent& e) { on_log(i, e); }, LogLevel::info);
  }

  void on_log(std::size_t vat, const LogEvent& e) {
    if (e.event != "session.closed") return;
    const std::string* transport = e.field("transport");
    const std::string* reason = e.field("reason");
    std::string why = reason ? *reason : "";
    trace_.add(fmt::format("v{} session closed: {}", vat, why));
    if (ending_) return;
    // The crossed-dial rule closes the spare session on purpose.
    if (why.find("crossed connection") != std::string::npos ||
        why.find("replaced by a new session") != std::string::npos)
      return;
    if (transport && net_ && net_->link_faulted(*transport)) return;
    fail(fmt::format("v{}: session ended between honest vats: {}", vat, why));
  }

  void join(std::size_t a, std::size_t b, bool crossed) {
    auto [ab, ba] = net_->join(a, b, crossed);
    if (!net_->at(a).up() || !net_->at(b).up()) return;
    state_[a].slots.push_back(Slot{new_slot_id(), from_value<Ref<Actor>>(to_value(ab)), 0});
    state_[b].slots.push_back(Slot{new_slot_id(), from_value<Ref<Actor>>(to_value(ba)), 0});
  }

  std::uint32_t draw_op();
  void post_op();
  void run_op(std::size_t v, std::uint32_t op);
  void fault(std::uint32_t op);
  void end_phase();
  std::string check_tables();

  Chooser& choose_;
  ProgramConfig config_;
  std::uint64_t handoffs_ = 0, handoff_fallbacks_ = 0;  // see Outcome
  Trace trace_;
  std::vector<VatState> state_;
  std::unordered_map<std::uint64_t, int> delivered_;
  std::unordered_map<std::uint64_t, Deps> arg_deps_;
  std::map<std::uint64_t, Deps> resolved_to_;  // promise id -> what it was resolved to waits on
  std::map<std::uint64_t, std::pair<std::int64_t, std::uint64_t>> slot_last_;  // slot -> (seq, actor)
  std::uint64_t actors_ = 0, slots_ = 0, msgs_ = 0, deliveries_ = 0, calls_ = 0;
  std::int64_t alive_ = 0;
  bool ending_ = false, stopped_ = false;
  std::string failure_;
  // Each vat's persistent objects and their store ("disk": it survives the
  // vat's crashes); the hosts go before the vats (~Program).
  std::vector<std::shared_ptr<persist::MemoryEngine>> engines_;
  std::vector<std::unique_ptr<persist::Host>> hosts_;
  std::map<std::int64_t, std::size_t> deposited_at_;  // amount (= call) -> the ledger's vat
  Duration commit_delay_{};
  void crash_host(std::size_t i);
  std::string check_ledgers();
  std::unique_ptr<Net> net_;  // last: it goes first
};

Actor::Actor(Program* p, std::size_t vat, std::uint64_t id, bool root) : p_(p), vat_(vat), id_(id), root_(root) {
  if (!root_) p_->actor_born();
}
Actor::~Actor() {
  if (!root_) p_->actor_died();
}

std::int64_t Actor::ping(std::int64_t msg, std::int64_t slot, std::int64_t seq) {
  p_->delivered(msg, slot, seq, id_);
  return msg;
}
Ref<Actor> Actor::spawn(std::int64_t msg, std::int64_t slot, std::int64_t seq) {
  p_->delivered(msg, slot, seq, id_);
  return vat().make<Actor>(p_, vat_, p_->new_actor_id(), false);
}
Value Actor::pair(std::int64_t msg, std::int64_t slot, std::int64_t seq) {
  p_->delivered(msg, slot, seq, id_);
  Record r;
  r.label = "pair";
  r.fields.emplace_back("left", to_value(vat().make<Actor>(p_, vat_, p_->new_actor_id(), false)));
  r.fields.emplace_back("n", Value(msg));
  return Value(std::move(r));
}
Ref<Actor> Actor::pass(std::int64_t msg, std::int64_t slot, std::int64_t seq, Ref<Actor> r) {
  p_->delivered(msg, slot, seq, id_);
  return r;
}
void Actor::keep(std::int64_t msg, std::int64_t slot, std::int64_t seq, Ref<Actor> r) {
  p_->delivered(msg, slot, seq, id_);
  if (p_->state(vat_).dropped) return;  // as in later()
  p_->state(vat_).slots.push_back(Slot{p_->new_slot_id(), std::move(r), 0, p_->arg_deps(msg)});
  p_->trace().add(fmt::format("v{} new slot {}", vat_, p_->state(vat_).slots.back().id));
}
Promise<Ref<Actor>> Actor::later(std::int64_t msg, std::int64_t slot, std::int64_t seq) {
  p_->delivered(msg, slot, seq, id_);
  auto [p, r] = make_promise<Ref<Actor>>();
  // After the program dropped everything, the resolver goes too (the answer
  // breaks): a resolver kept now would keep this actor alive, and the end
  // check would blame the protocol for what the program holds.
  if (p_->state(vat_).dropped) return p;
  // The resolver's id is the call's: the caller's slot for the answer waits on it.
  p_->state(vat_).resolvers.push_back(Pending{std::move(r), static_cast<std::uint64_t>(msg)});
  return p;
}
Promise<std::int64_t> Actor::value_of(std::int64_t msg, std::int64_t slot, std::int64_t seq, Promise<std::int64_t> p) {
  p_->delivered(msg, slot, seq, id_);
  return p;
}
Promise<std::int64_t> Actor::relay(std::int64_t msg, std::int64_t slot, std::int64_t seq, Ref<Actor> r) {
  p_->delivered(msg, slot, seq, id_);
  std::uint64_t inner = p_->new_msg_id();
  p_->trace().add(fmt::format("actor {} relays call {} as call {}", id_, msg, inner));
  return r.send<&Actor::ping>(static_cast<std::int64_t>(inner), static_cast<std::int64_t>(p_->new_slot_id()),
                              std::int64_t{1});
}
void Actor::boom(std::int64_t msg, std::int64_t slot, std::int64_t seq) {
  p_->delivered(msg, slot, seq, id_);
  throw_error(ErrorKind::failed, "sim: boom");
}
Promise<std::int64_t> Actor::deposit(std::int64_t msg, std::int64_t slot, std::int64_t seq) {
  p_->delivered(msg, slot, seq, id_);
  return p_->deposit_at(vat_, msg);
}

// A crash loses what the host had not committed: it may not commit on its
// way out as a closing host does, so its store refuses every commit until the
// host is gone.
void Program::crash_host(std::size_t i) {
  engines_[i]->fail_commits(1 << 30);
  hosts_[i].reset();
  engines_[i]->fail_commits(0);
}

// spec/persistence.md 4: what an answer acknowledged is durable; a deposit's
// three writes are durable together or not at all.
std::string Program::check_ledgers() {
  auto number = [](const Bytes& b) {
    Result<Value> v = persist::decode_stored(b);
    return v && v->type() == Value::Type::integer ? v->as_int() : std::int64_t{-1};
  };
  for (auto& st : state_)
    for (auto& c : st.calls) {
      if (c.dropped || std::string_view(c.kind) != "deposit" || c.error()) continue;
      auto at = deposited_at_.find(static_cast<std::int64_t>(c.msg));
      if (at == deposited_at_.end()) return fmt::format("deposit {} answered but never reached a ledger", c.msg);
      if (!engines_[at->second]->get(kLedgerId, fmt::format("log/{:012}", c.msg)))
        return fmt::format("deposit {} answered but not durable in v{}'s ledger", c.msg, at->second);
    }
  for (std::size_t i = 0; i < engines_.size(); ++i) {
    std::int64_t sum = 0, entries = 0;
    for (auto& [k, v] : engines_[i]->scan(kLedgerId, "log/")) {
      sum += number(v);
      ++entries;
    }
    auto balance = engines_[i]->get(kLedgerId, "balance");
    auto count = engines_[i]->get(kLedgerId, "count");
    std::int64_t b = balance ? number(*balance) : 0, n = count ? number(*count) : 0;
    if (b != sum || n != entries)
      return fmt::format("v{}'s ledger holds part of a deposit: balance {} count {}, log {} entries summing to {}", i,
                         b, n, entries, sum);
  }
  return {};
}

std::uint32_t Program::draw_op() {
  // Weighted: plain traffic is the bulk, faults are rare.
  struct W {
    std::uint32_t op;
    std::uint32_t weight;
  };
  static constexpr W table[] = {
      {op_ping, 30},    {op_spawn, 10},        {op_field, 6}, {op_pass, 10},  {op_keep, 10},         {op_later, 8},
      {op_resolve, 10}, {op_local_promise, 6}, {op_drop, 6},  {op_forget, 4}, {op_promise_value, 6}, {op_boom, 2},
      {op_burst, 2},    {op_cut, 1},           {op_crash, 1}, {op_rejoin, 2}, {op_partition, 1},     {op_deposit, 6}};
  std::uint32_t total = 0;
  for (auto& w : table)
    if (config_.ops & w.op) total += w.weight;
  if (total == 0) return 0;
  std::uint64_t r = choose_.below(total);
  for (auto& w : table) {
    if (!(config_.ops & w.op)) continue;
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
      Ref<Actor> arg = other();
      Call c = base("pass");
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
      Ref<Actor> arg = other();
      Call c = base("keep");
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
      if (a != b) net_->cut(a, b);
      break;
    case op_crash:
      if (!net_->at(a).up()) break;
      // What the program holds in that vat dies with it.
      state_[a] = VatState{};
      crash_host(a);
      net_->crash(a);
      break;
    case op_partition: {
      // Each vat on one side or the other; every link across is cut.
      std::vector<bool> side(n);
      for (std::size_t i = 0; i < n; ++i) side[i] = choose_.chance(50);
      trace_.add("partition");
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j)
          if (side[i] != side[j]) net_->cut(i, j);
      break;
    }
    case op_rejoin:
      if (choose_.chance(30)) {
        // Heal: every pair of live vats without a link is joined again.
        trace_.add("heal");
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = i + 1; j < n; ++j)
            if (net_->at(i).up() && net_->at(j).up() && !net_->linked(i, j)) join(i, j, false);
      } else if (!net_->at(a).up()) {
        net_->restart(a);
        for (std::size_t o = 0; o < n; ++o)
          if (o != a && net_->at(o).up()) join(a, o, false);
      } else if (a != b && net_->at(b).up() && !net_->linked(a, b)) {
        join(a, b, (config_.ops & op_crossed) && choose_.chance(30));
      }
      break;
    default: break;
  }
}

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
      bool legit = ours || e->kind == ErrorKind::overloaded || (faults && e->kind == ErrorKind::disconnected);
      if (!legit)
        return fail(
            fmt::format("call {} ({} from v{}) broke without a cause: {}", c.msg, c.kind, c.vat, to_string(*e)));
    }

  if (std::string broken = check_ledgers(); !broken.empty()) return fail(broken);

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

Outcome Program::run() {
  try {
    for (std::size_t step = 0; step < config_.steps && failure_.empty(); ++step) {
      if (choose_.chance(30))
        post_op();
      else
        net_->step();
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
  return o;
}

}  // namespace

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
const char* const kOpNames[] = {"ping",          "spawn",  "field",   "pass",          "keep",   "later", "resolve",
                                "local_promise", "drop",   "forget",  "promise_value", "boom",   "burst", "cut",
                                "crash",         "rejoin", "crossed", "partition",     "deposit"};
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
