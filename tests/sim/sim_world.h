// The world of the simulation's random programs (sim_program.h): the one
// object kind (Actor) and the persistent ledger, what each vat's program
// holds (slots, pending resolvers, calls and their answers), and the Program
// that draws operations and faults, runs them and judges the run. Private to
// tests/sim: sim_program.cpp draws and runs the operations, sim_actors.cpp
// holds the objects, sim_oracle.cpp the end-of-run invariants,
// sim_handoff.cpp what three-party handoff adds (spec/captp.md 11) and
// sim_hostile.cpp the hostile vat (its checks on the honest world are here
// and in sim_oracle.cpp).
#pragma once

#include <fmt/format.h>

#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "persist/host.h"
#include "persist/memory_engine.h"
#include "persist/stored_value.h"
#include "tests/sim/sim_hostile.h"
#include "tests/sim/sim_program.h"
#include "vat/vatic.h"

namespace vatic::sim::internal {

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
inline constexpr const char* kLedgerId = "ledger/ledger";  // kind/key

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

// A reference that went straight to its host when an introducer crashed
// (sim_handoff.cpp): calls on it must answer unless the pair (holder, host)
// met a fault since (its count of faults moved past `epoch`).
struct Guard {
  std::size_t host = 0, introducer = 0;
  std::uint64_t epoch = 0;
};

struct Slot {
  std::uint64_t id = 0;
  Ref<Actor> ref;
  std::int64_t seq = 0;
  Deps deps;
  std::optional<Guard> guard;
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
  std::optional<Guard> guard;  // from its slot, for the calls that involve no other vat
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
    // With handoff, vats reach the hosts they were never joined to by
    // dialling the hints of an introduction (spec/captp.md 11, H6 3).
    nc.dial = config.handoff;
    if (config.handoff) {
      // Some vats are configured not to dial for handoffs (spec/captp.md 11,
      // H6): they fall back to the introducer's proxy at once.
      std::string no_dial;
      for (std::size_t i = 0; i < nc.vats; ++i) {
        handoff_dial_.push_back(!choose_.chance(15));
        if (!handoff_dial_.back()) no_dial += fmt::format(" v{}", i);
      }
      if (!no_dial.empty()) trace_.add("config no handoff dial:" + no_dial);
      nc.configure = [this](std::size_t i, captp::NodeOptions& o) { o.handoff_dial = handoff_dial_[i]; };
    }
    if (config.handoff && config.hostile) {
      // Small bounds, so that floods reach them and provisions expire
      // within a run (spec/captp.md 11.8).
      nc.node.session.max_provisions = kHostileMaxProvisions;
      nc.node.session.provision_ttl = std::chrono::seconds(3);
      nc.node.session.accept_wait = std::chrono::seconds(2);
      trace_.add("config hostile");
    }
    net_ = std::make_unique<Net>(nc, choose_, trace_, [this](SimVat& v) { on_start(v); });
    draw_mesh();
    for (std::size_t a = 0; a < net_->size(); ++a)
      for (std::size_t b = a + 1; b < net_->size(); ++b)
        if (in_mesh(a, b)) join(a, b, (config_.ops & op_crossed) && choose_.chance(30));
    if (config.handoff && config.hostile) add_hostile(randomness_seed);
  }

  ~Program() {
    // What the program holds belongs to the vats: let it go before they go.
    state_.clear();
    hostile_.reset();
    hosts_.clear();
    net_.reset();
  }

  Outcome run();

  // --- The oracle (called from the actors).
  void delivered(std::uint64_t msg, std::uint64_t slot, std::int64_t seq, std::uint64_t actor) {
    ++deliveries_;
    if (forbidden_.contains(msg))
      fail(fmt::format("call {} was delivered, pipelined on an accept the host had to refuse (spec/captp.md 11, H10)",
                       msg));
    if (auto m = misdirected_slots_.find(slot); m != misdirected_slots_.end() && actor_vat_[actor] == m->second)
      fail(
          fmt::format("call {} on slot {} reached v{}, whose provision names another vat than the slot's holder "
                      "(spec/captp.md 11, H10 3)",
                      msg, slot, m->second));
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
    trace_.add(
        fmt::format("delivered call {} slot {} seq {} at actor {} of v{}", msg, slot, seq, actor, actor_vat_[actor]));
  }
  Promise<std::int64_t> deposit_at(std::size_t vat, std::int64_t amount) {
    deposited_at_[amount] = vat;
    return hosts_.at(vat)->object<SimLedger>("ledger").send<&SimLedger::deposit>(amount);
  }
  std::uint64_t new_actor_id(std::size_t vat) {
    actor_vat_[++actors_] = vat;
    return actors_;
  }
  // The reference argument of call `msg` arrived at `vat` (keep, pass):
  // with handoff, an introduction may crash its introducer now, and a kept
  // one may be passed on at once to a fourth vat (spec/captp.md 11.7).
  void received(std::size_t vat, std::uint64_t msg, const Ref<Actor>* kept);
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
    auto root = v.vat->make<Actor>(this, i, new_actor_id(i), true);
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
    // The hostile vat's sessions: it judges their ends itself (sim_hostile.h).
    if (transport && net_ && net_->outsider_link(*transport)) return;
    fail(fmt::format("v{}: session ended between honest vats: {}", vat, why));
  }

  void join(std::size_t a, std::size_t b, bool crossed) {
    auto [ab, ba] = net_->join(a, b, crossed);
    if (!net_->at(a).up() || !net_->at(b).up()) return;
    state_[a].slots.push_back(Slot{new_slot_id(), from_value<Ref<Actor>>(to_value(ab)), 0});
    state_[b].slots.push_back(Slot{new_slot_id(), from_value<Ref<Actor>>(to_value(ba)), 0});
  }

  // The pairs of vats the program joins (and joins again after faults): all
  // of them, or with handoff a connected part drawn by the seed, so that
  // references between the others travel only by introductions.
  void draw_mesh();
  bool in_mesh(std::size_t a, std::size_t b) const { return mesh_.contains({std::min(a, b), std::max(a, b)}); }

  // --- The hostile vat (sim_hostile.h; its part of the oracle in sim_oracle.cpp).
  static constexpr std::size_t kHostileMaxProvisions = 8;
  void add_hostile(std::uint64_t randomness_seed);
  // Online: no host keeps more provisions of the hostile vat than its bound.
  void check_hostile_provisions();
  // At the end: its provisions expired; then it leaves.
  void end_hostile();

  // --- Handoff (sim_handoff.cpp, spec/captp.md 11).
  // The vat whose session `v`'s calls on `r` go to now (Node::route).
  std::optional<std::size_t> route(std::size_t v, const Ref<Actor>& r) const;
  // A slot of `v` whose calls go to another vat than `target`'s: passing it
  // to `target` is an introduction. Null if there is none.
  Slot* introducible(std::size_t v, const Slot& target);
  // Call `msg` from `v` passes `arg` to `target`: note it if it introduces.
  void note_introduction(std::size_t v, std::uint64_t msg, const Ref<Actor>& target, const Ref<Actor>& arg);
  // Faults, counted per pair of vats (guards read the counts).
  void cut(std::size_t a, std::size_t b);
  void crash(std::size_t v);
  void bump(std::size_t a, std::size_t b) { ++pair_faults_[{std::min(a, b), std::max(a, b)}]; }
  std::uint64_t pair_faults(std::size_t a, std::size_t b) const {
    auto it = pair_faults_.find({std::min(a, b), std::max(a, b)});
    return it == pair_faults_.end() ? 0 : it->second;
  }
  // Before `b` crashes: the references that go straight to their host get a guard.
  void guard_direct(std::size_t b);
  void arm_introducer_crash();
  void crash_introducer_if_due();
  std::string check_guard(const Call& c, const Error& e) const;

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
  std::set<std::pair<std::size_t, std::size_t>> mesh_;  // see draw_mesh
  // Handoff: who made each actor; faults per pair; introductions by call
  // (introducer, host); the armed introducer crash (see arm_introducer_crash).
  std::map<std::uint64_t, std::size_t> actor_vat_;
  std::map<std::pair<std::size_t, std::size_t>, std::uint64_t> pair_faults_;
  struct Introduction {
    std::size_t introducer, host;
  };
  std::map<std::uint64_t, Introduction> introductions_;
  enum class Arm { none, on_send, on_receipt, while_provided } armed_ = Arm::none;
  std::size_t armed_countdown_ = 0;
  std::optional<std::size_t> crash_due_;  // an introducer to crash after this step
  std::vector<bool> handoff_dial_;        // per vat (NodeOptions::handoff_dial)
  std::uint64_t introductions_made_ = 0, onward_ = 0, introducer_crashes_ = 0, guarded_calls_ = 0;
  std::unique_ptr<Hostile> hostile_;
  std::set<std::uint64_t> forbidden_;  // calls the hostile vat sent that no host may deliver
  // Calls of the hostile vat's carrying a misdirected descriptor, and the
  // slots they made: -> the host no call on them may reach.
  std::map<std::uint64_t, std::size_t> misdirected_msgs_, misdirected_slots_;
  std::unique_ptr<Net> net_;  // last: it goes first
};

}  // namespace vatic::sim::internal
