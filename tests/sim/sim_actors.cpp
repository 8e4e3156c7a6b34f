// The simulation's objects: the Actor every program calls (each method
// reports its delivery to the oracle first) and the ledger's durability check.
#include "tests/sim/sim_world.h"

namespace vatic::sim::internal {

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
  return vat().make<Actor>(p_, vat_, p_->new_actor_id(vat_), false);
}
Value Actor::pair(std::int64_t msg, std::int64_t slot, std::int64_t seq) {
  p_->delivered(msg, slot, seq, id_);
  Record r;
  r.label = "pair";
  r.fields.emplace_back("left", to_value(vat().make<Actor>(p_, vat_, p_->new_actor_id(vat_), false)));
  r.fields.emplace_back("n", Value(msg));
  return Value(std::move(r));
}
Ref<Actor> Actor::pass(std::int64_t msg, std::int64_t slot, std::int64_t seq, Ref<Actor> r) {
  p_->delivered(msg, slot, seq, id_);
  p_->received(vat_, static_cast<std::uint64_t>(msg), nullptr);
  return r;
}
void Actor::keep(std::int64_t msg, std::int64_t slot, std::int64_t seq, Ref<Actor> r) {
  p_->delivered(msg, slot, seq, id_);
  if (p_->state(vat_).dropped) return;  // as in later()
  p_->state(vat_).slots.push_back(Slot{p_->new_slot_id(), std::move(r), 0, p_->arg_deps(msg)});
  p_->trace().add(fmt::format("v{} new slot {}", vat_, p_->state(vat_).slots.back().id));
  Ref<Actor> kept = p_->state(vat_).slots.back().ref;
  p_->received(vat_, static_cast<std::uint64_t>(msg), &kept);
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

}  // namespace vatic::sim::internal
