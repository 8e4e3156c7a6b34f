#include "caps/membrane.h"

#include <algorithm>
#include <map>
#include <typeinfo>

#include <fmt/format.h>

#include "caps/caveat.h"
#include "caps/internal/gate.h"
#include "vat/message.h"

namespace vatic::caps::internal {

using detail::HandlerPtr;
using detail::MessagePtr;
using detail::PromiseBase;
using detail::Ptr;

// Where a wrapper's target lives: inside (the membrane's original target and
// what it hands out) or outside (what the holders of wrappers pass in).
enum class MembraneSide : unsigned char { inside, outside };

class MembraneWrapper;

class MembraneCore final : public Switch, public std::enable_shared_from_this<MembraneCore> {
 public:
  MembraneCore(std::shared_ptr<MembranePolicy> policy, detail::Handler& root);

  MembranePolicy& policy() const noexcept { return *policy_; }
  // Whether a handler with identity `id` is the original target (or what
  // it forwards to): calls that land there are at the root.
  bool is_root(const void* id) const noexcept;
  std::size_t wrappers() const noexcept { return wrappers_; }

  // A reference arriving on side `into` from the other side, made fit for use
  // there: unwrapped if it is crossing back the way it came, else wrapped.
  HandlerPtr carry(const HandlerPtr& h, MembraneSide into);
  // The same for every reference in `v` (lists and records included).
  void carry(Value& v, MembraneSide into);

  void born() noexcept { ++wrappers_; }
  void died(MembraneWrapper* w, const void* key, MembraneSide side) noexcept;

 private:
  using Key = std::pair<const void*, MembraneSide>;

  std::shared_ptr<MembranePolicy> policy_;
  // Identities along the original target's forwarding chain when the
  // membrane was made. Compared only, never dereferenced (a reused address can
  // only make a call stricter); the target itself is held by the root wrapper.
  std::vector<const void*> root_ids_;
  // The live wrapper of each (target identity, side): wrapping the same target
  // twice gives the same wrapper, so Ref equality holds. Weak: a wrapper
  // removes itself when destroyed, so an entry always names a live wrapper.
  std::map<Key, MembraneWrapper*> cache_;
  std::size_t wrappers_ = 0;
};

namespace {

MembraneSide other(MembraneSide s) { return s == MembraneSide::inside ? MembraneSide::outside : MembraneSide::inside; }

// Forwarding chains are walked in loops; past this many steps a chain counts
// as unknown (the stricter case), so no chain can make a call slow.
constexpr int kMaxChainWalk = 1024;

}  // namespace

class MembraneWrapper final : public Gate {
 public:
  MembraneWrapper(Vat* home, HandlerPtr target, MembraneSide side, std::shared_ptr<MembraneCore> core)
      : Gate(home, std::move(target), core), side_(side) {
    if (Gate::target()) key_ = Gate::target()->identity();
    core->born();
  }
  ~MembraneWrapper() override { core().died(this, key_, side_); }

  MembraneSide target_side() const noexcept { return side_; }
  // The wrapped reference; null once the membrane was cut.
  const HandlerPtr& inner() const noexcept { return target(); }
  MembraneCore& core() const noexcept { return static_cast<MembraneCore&>(control()); }

 private:
  // Where a call through this wrapper lands, as far as is known here.
  enum class Reach : unsigned char { root, elsewhere, unknown };

  PromiseBase* pass(MessagePtr& m) override;
  void on_cut() noexcept override { resolution_.reset(); }
  // Lowers an admitted call: by name, arguments carried in, answer carried back.
  void lower(MessagePtr m, std::string method);
  Reach reach() const;
  Reach reach_from(detail::Handler* h) const;

  MembraneSide side_;
  const void* key_ = nullptr;  // the target's identity: this wrapper's cache key
  // The outcome of an unresolved remote target, asked for when a call's
  // admission depends on whether it lands on the root.
  Ptr<detail::PromiseState<Value>> resolution_;
};

namespace {

// Carries a call's answer back to the caller's side of the membrane.
class CarryBack final : public Outcome {
 public:
  CarryBack(Ptr<PromiseBase> out, const std::shared_ptr<MembraneCore>& core, MembraneSide into)
      : Outcome(std::move(out), core), core_(core.get()), into_(into) {}

 private:
  void carry(Value& v) override { core_->carry(v, into_); }

  MembraneCore* core_;  // kept alive by the Outcome's switch
  MembraneSide into_;
};

}  // namespace

MembraneCore::MembraneCore(std::shared_ptr<MembranePolicy> policy, detail::Handler& root) : policy_(std::move(policy)) {
  detail::Handler* h = &root;
  for (int steps = 0; h && steps < kMaxChainWalk; ++steps, h = h->forwards_to()) root_ids_.push_back(h->identity());
}

bool MembraneCore::is_root(const void* id) const noexcept {
  if (std::find(root_ids_.begin(), root_ids_.end(), id) != root_ids_.end()) return true;
  // A root that was a promise may have resolved since: follow it as it is now.
  auto it = cache_.find(Key{root_ids_.front(), MembraneSide::inside});
  if (it == cache_.end() || !it->second->inner()) return false;
  detail::Handler* h = it->second->inner().get();
  for (int steps = 0; h && steps < kMaxChainWalk; ++steps, h = h->forwards_to())
    if (h->identity() == id) return true;
  return false;
}

void MembraneCore::died(MembraneWrapper* w, const void* key, MembraneSide side) noexcept {
  --wrappers_;
  auto it = cache_.find(Key{key, side});
  if (it != cache_.end() && it->second == w) cache_.erase(it);
}

HandlerPtr MembraneCore::carry(const HandlerPtr& h, MembraneSide into) {
  if (!h) return h;
  if (auto* w = dynamic_cast<MembraneWrapper*>(h.get()); w && &w->core() == this) {
    // A wrapper whose target lives on the side it is going to: that side's own
    // reference, coming home. One made for this side already stays as it is
    // (Cap'n Proto wraps that case twice; once is enough, as the same policy
    // and the same switch govern it).
    if (w->target_side() == into && w->inner()) return w->inner();
    return h;
  }
  MembraneSide side = other(into);
  Vat* home = h->home();
  if (is_cut()) return detail::make_ptr<MembraneWrapper>(home, nullptr, side, shared_from_this());
  Key key{h->identity(), side};
  // Same identity and same kind of handler: the same target (the type check
  // keeps a stale far identity from ever matching a local object).
  if (auto it = cache_.find(key);
      it != cache_.end() && it->second->inner() && typeid(*it->second->inner()) == typeid(*h))
    return HandlerPtr(it->second);
  auto w = detail::make_ptr<MembraneWrapper>(home, h, side, shared_from_this());
  cache_.insert_or_assign(key, w.get());
  return w;
}

void MembraneCore::carry(Value& v, MembraneSide into) {
  switch (v.type()) {
    case Value::Type::list:
      for (auto& e : v.as_list()) carry(e, into);
      break;
    case Value::Type::record:
      for (auto& [name, f] : v.as_record().fields) carry(f, into);
      break;
    case Value::Type::reference: {
      Capability& c = v.as_capability();
      // Inside a vat every reference is a handler; anything else would cross
      // unexamined, so refuse it (fail closed).
      if (c.transit)
        throw_error(ErrorKind::failed, "membrane: a reference in transit form cannot be carried (our invariant)");
      c.handler = carry(c.handler, into);
      break;
    }
    default: break;
  }
}

MembraneWrapper::Reach MembraneWrapper::reach_from(detail::Handler* h) const {
  // Follow what messages to `h` go on to: a promise resolved to the root, a
  // gate in front of it, a resolved remote promise all land on the root.
  for (int steps = 0; h && steps < kMaxChainWalk; ++steps) {
    if (core().is_root(h->identity())) return Reach::root;
    if (detail::Handler* next = h->forwards_to()) {
      h = next;
      continue;
    }
    if (PromiseBase* p = h->as_promise(); p && !p->pending()) return Reach::elsewhere;  // data or broken
    return h->kind() == detail::RefKind::promise ? Reach::unknown : Reach::elsewhere;
  }
  return Reach::unknown;
}

MembraneWrapper::Reach MembraneWrapper::reach() const {
  // Calls made by the inside on references from outside are never "at the
  // root": the root is the outside's view of the inside.
  if (side_ == MembraneSide::outside) return Reach::elsewhere;
  Reach r = reach_from(target().get());
  if (r != Reach::unknown || !resolution_ || resolution_->pending()) return r;
  if (resolution_->status() == PromiseBase::Status::broken) return Reach::elsewhere;  // the call will break there
  const Value& v = resolution_->value();
  if (v.type() != Value::Type::reference) return Reach::elsewhere;
  // Still unknown (it resolved to a promise elsewhere): treat as the root, the stricter case.
  return reach_from(v.as_capability().handler.get()) == Reach::elsewhere ? Reach::elsewhere : Reach::root;
}

PromiseBase* MembraneWrapper::pass(MessagePtr& m) {
  MembranePolicy& policy = core().policy();
  std::string method;
  std::optional<Error> refusal;
  try {
    method = std::string(m->method());
    Reach r = reach();
    if (r != Reach::unknown) {
      refusal = policy.admit(method, r == Reach::root);
    } else if (policy.admit(method, true) || policy.admit(method, false)) {
      // A call pipelined to an answer not known yet, which the policy would
      // refuse on the root or elsewhere: wait to learn where it lands (one
      // round trip) instead of letting it reach the root unchecked. Calls
      // fine either way keep pipelining.
      if (!resolution_) resolution_ = detail::send_by_name(*target(), std::string(detail::kWhenResolved), {}).state();
      return resolution_.get();
    }
  } catch (...) {
    detail::break_message(std::move(m), error_from_exception(std::current_exception()));
    return nullptr;
  }
  if (refusal) {
    detail::break_message(std::move(m), *refusal);
    return nullptr;
  }
  lower(std::move(m), std::move(method));
  return nullptr;
}

void MembraneWrapper::lower(MessagePtr m, std::string method) {
  MembraneCore& core = this->core();
  std::vector<Value> args;
  try {
    args = m->take_args();
    for (auto& a : args) core.carry(a, side_);
  } catch (...) {
    return detail::break_message(std::move(m), error_from_exception(std::current_exception()));
  }
  // The policy (or a destructor run by carrying) may have cut the membrane.
  if (!target()) return detail::break_message(std::move(m), core.error());

  Ptr<PromiseBase> out = m->take_result();
  // The lowered call is still the caller's: it keeps the sender the flight
  // recorder names (and keeps, being a delivery from outside the vat).
  std::string sender = m->sender_ ? m->sender_ : "";
  m.reset();
  auto inner = detail::make_ptr<detail::PromiseState<Value>>(home());
  MembraneSide back = other(side_);
  // Pipelining: sends to the caller's promise go through the membrane to the
  // promise of the lowered call, in order, before and after it settles. Set
  // before the call goes out, as it may settle at once.
  if (out->pipelinable()) out->forward_to(core.carry(HandlerPtr(inner), back));
  inner->listen(std::make_unique<CarryBack>(std::move(out), core.shared_from_this(), back));
  auto lowered = std::make_unique<detail::DynamicMessage>(inner, std::move(method), std::move(args));
  if (!sender.empty()) lowered->set_sender(sender);
  pass_on(target(), std::move(lowered));
}

std::pair<HandlerPtr, MembraneControl> make_membrane(HandlerPtr target, std::shared_ptr<MembranePolicy> policy) {
  if (!target) throw_error(ErrorKind::failed, "caps::membrane of an empty reference");
  if (!policy) throw_error(ErrorKind::failed, "caps::membrane needs a policy");
  auto core = std::make_shared<MembraneCore>(std::move(policy), *target);
  HandlerPtr root = core->carry(target, MembraneSide::outside);
  return {std::move(root), MembraneControl(std::move(core))};
}

}  // namespace vatic::caps::internal

namespace vatic::caps {

namespace {
Error refused(std::string reason) { return Error{ErrorKind::failed, std::move(reason)}; }
}  // namespace

std::optional<Error> RevocableOnly::admit(std::string_view, bool) { return std::nullopt; }

AllowMethodsAtRoot::AllowMethodsAtRoot(std::vector<std::string> methods, std::optional<std::string> refusal)
    : methods_(std::move(methods)), refusal_(std::move(refusal)) {}

std::optional<Error> AllowMethodsAtRoot::admit(std::string_view method, bool at_root) {
  // Asking a promise for its outcome is no method of the target's interface,
  // and the answer comes out wrapped.
  if (!at_root || method == detail::kWhenResolved) return std::nullopt;
  if (std::find(methods_.begin(), methods_.end(), method) != methods_.end()) return std::nullopt;
  if (refusal_) return refused(*refusal_);
  return refused(fmt::format("refused: method {} is not allowed by this capability", method));
}

TimeWindow::TimeWindow(std::function<std::int64_t()> now_unix, std::optional<std::int64_t> not_before,
                       std::optional<std::int64_t> expires, std::int64_t skew_seconds)
    : now_unix_(std::move(now_unix)), not_before_(not_before), expires_(expires), skew_(skew_seconds) {
  if (!now_unix_) throw_error(ErrorKind::failed, "caps::TimeWindow needs a clock function (caller's precondition)");
}

std::optional<Error> TimeWindow::admit(std::string_view, bool) {
  // token.md, From token to live reference step 2: the same window as the redeem.
  if (auto why = check_time_window(not_before_, expires_, now_unix_(), skew_)) return refused(*why);
  return std::nullopt;
}

AllOf::AllOf(std::vector<std::shared_ptr<MembranePolicy>> policies) : policies_(std::move(policies)) {
  for (const auto& p : policies_)
    if (!p) throw_error(ErrorKind::failed, "caps::AllOf given a null policy (caller's precondition)");
}

std::optional<Error> AllOf::admit(std::string_view method, bool at_root) {
  for (const auto& p : policies_)
    if (auto e = p->admit(method, at_root)) return e;
  return std::nullopt;
}

void MembraneControl::revoke(Error why) {
  if (core_) core_->cut(std::move(why));
}

void MembraneControl::revoke(std::string_view reason) {
  revoke(Error{ErrorKind::failed, fmt::format("revoked: {}", reason)});
}

bool MembraneControl::revoked() const noexcept { return core_ && core_->is_cut(); }

std::size_t MembraneControl::live_wrappers() const noexcept { return core_ ? core_->wrappers() : 0; }

}  // namespace vatic::caps
