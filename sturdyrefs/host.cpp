#include "sturdyrefs/host.h"

#include <sodium.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "caps/chain_cache.h"
#include "caps/membrane.h"
#include "captp/node.h"
#include "sturdyrefs/admin.h"
#include "sturdyrefs/uri.h"
#include "vat/introspect.h"
#include "vat/log.h"
#include "vat/utf8.h"
#include "vat/vat.h"

namespace vatic::sturdyrefs {
namespace {

constexpr const char* kAdminKind = "vat.admin";

[[noreturn]] void refuse(const std::string& reason) { throw_error(ErrorKind::failed, "refused: " + reason); }

std::string hex(std::span<const std::uint8_t> b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

// spec/log.md, component "sturdyrefs": who redeemed, as a vat id, or
// "in-process" for a caller without a session.
std::string peer_text(const std::optional<caps::VatKey>& peer) {
  return peer ? captp::VatId::from_bytes(*peer).to_text() : std::string("in-process");
}

// The caveats on one line: caps::describe's lines joined by "; ", printable
// (a path caveat may hold any character but C0 and DEL, a C1 control included).
std::string caveat_summary(const caps::Caveats& c) {
  std::string text = caps::describe(c, [](const caps::VatKey& k) { return captp::VatId::from_bytes(k).to_text(); });
  for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at)) text.replace(at, 1, "; ");
  return utf8::printable(text);
}

// Logs each call a redeemed token's membrane refuses (spec/log.md:
// call.refused): a method the token does not allow, a call after its expiry.
// The method name is whatever the peer sent.
class LoggedPolicy final : public caps::MembranePolicy {
 public:
  LoggedPolicy(std::shared_ptr<caps::MembranePolicy> inner, Vat& vat, std::string peer, std::string object)
      : inner_(std::move(inner)), vat_(vat), peer_(std::move(peer)), object_(std::move(object)) {}
  std::optional<Error> admit(std::string_view method, bool at_root) override {
    std::optional<Error> refused = inner_->admit(method, at_root);
    if (refused && vat_.log_enabled(LogLevel::warn)) {
      std::string m = utf8::printable(method), reason = utf8::printable(refused->reason);
      vat_.log(LogEvent{LogLevel::warn,
                        "sturdyrefs",
                        "call.refused",
                        fmt::format("call {} from {}: {}", m, peer_, reason),
                        {{"peer", peer_}, {"object", object_}, {"method", m}, {"reason", reason}}});
    }
    return refused;
  }

 private:
  std::shared_ptr<caps::MembranePolicy> inner_;
  Vat& vat_;  // the membrane's vat, which outlives it
  std::string peer_, object_;
};

}  // namespace

struct Host::State : std::enable_shared_from_this<Host::State> {
  State(Vat& v, Store& s, HostOptions o)
      : vat(v),
        store(s),
        options(std::move(o)),
        self(s.identity().id()),
        master(s.master_key()),
        store_version(s.data_version()),
        with_revoked_branches(s.objects_with_revoked_branches()),
        started(v.clock().now()) {}

  Vat& vat;
  Store& store;
  HostOptions options;
  captp::VatId self;
  caps::MasterKey master;
  std::map<std::string, Kind> kinds;
  // The hosts of persistent objects the Admin object shows (persist()).
  std::vector<std::function<Value()>> persist_views;
  // The store's data_version just before with_revoked_branches was read.
  std::int64_t store_version;
  std::set<caps::ObjectId> with_revoked_branches;
  // The tag chains verified lately (token.md, Redeeming step 4): a ref
  // redeemed again costs its hashing once. Revoking here forgets what is
  // revoked; a store changed by another process empties it (below).
  caps::ChainCache chains;
  // Objects revived and still held (DESIGN 5): redeeming an object again
  // while a reference to it lives reaches the same object. sweep_live()
  // drops what nobody holds once the cache has doubled since the last sweep,
  // so its size stays within twice what is held (amortised O(1) a revive).
  struct Live {
    Ref<Object> ref;
    bool kind_keeps_identity = false;
  };
  std::map<caps::ObjectId, Live> live;
  static constexpr std::size_t kMinLiveSweep = 64;
  std::size_t live_sweep_at = kMinLiveSweep;
  // Every live reference handed out by a redeem, so revocation can cut it.
  // The token is kept (not its revocation ids, which a redeem may not have
  // computed) so that revoking a branch later can find its live references.
  struct Issued {
    caps::MembraneControl control;
    caps::Token token;
  };
  std::vector<Issued> issued;
  // The node serve_on() was given, for the admin's views of the sessions;
  // `node_alive` expires with it (a Host may outlive its Node).
  captp::Node* node = nullptr;
  std::weak_ptr<const void> node_alive;
  TimePoint started;

  captp::Node* serving_node() const { return node_alive.expired() ? nullptr : node; }

  std::int64_t now() const { return options.now_unix ? options.now_unix() : vat.clock().unix_seconds(); }

  // token.md, Redeeming steps 3 to 6; the same outward reason for each.
  struct Verified {
    StoredObject object;
    std::vector<caps::RevocationId> rids;
  };
  Verified verify(const caps::Token& t, bool want_rids = false) {
    auto obj = store.find(t.object);
    // An unknown object is checked against a fixed dummy key, so that the
    // time taken does not tell it from a forged tag.
    caps::ObjectKey key = caps::derive_object_key(master, obj ? t.object : caps::ObjectId{});
    // Another process serving the same store (a second `vatic serve`) may
    // have revoked a branch since the set was read: reread it then, or that
    // revocation would be skipped below.
    if (std::int64_t v = store.data_version(); v != store_version) {
      with_revoked_branches = store.objects_with_revoked_branches();
      store_version = v;
      chains.clear();
    }
    // Revocation ids matter only for objects with a revoked branch (and to
    // revoke one); the others skip a hash per caveat.
    bool rids = want_rids || with_revoked_branches.contains(t.object);
    // A chain through a revoked branch is not entered (it would be dropped
    // below, redeem after redeem).
    auto branch_revoked = [this](const caps::RevocationId& rid) { return store.branch_revoked(rid); };
    caps::ChainCheck check =
        chains.verify(t, key, rids, rids ? std::function<bool(const caps::RevocationId&)>(branch_revoked) : nullptr);
    // A revoked chain is refused, and not kept: the cache enters every chain
    // whose tag verifies, and it learns of revocations made elsewhere only here.
    if (obj && obj->revoked) chains.forget_object(t.object);
    if (!obj || obj->revoked || !check.valid) refuse("invalid token");
    for (const auto& rid : check.revocation_ids) {
      if (store.branch_revoked(rid)) {
        chains.forget_branch(rid);
        refuse("invalid token");
      }
    }
    return Verified{std::move(*obj), std::move(check.revocation_ids)};
  }

  Ref<Object> revive(const StoredObject& o) {
    if (auto it = live.find(o.id); it != live.end()) return it->second.ref;
    auto k = kinds.find(o.kind);
    if (k == kinds.end() || !k->second.revive)
      throw_error(ErrorKind::failed, fmt::format("this vat cannot revive objects of kind {:?}", o.kind));
    Ref<Object> r = k->second.revive(o);
    if (live.size() >= live_sweep_at) sweep_live();
    live.emplace(o.id, Live{r, k->second.keeps_identity});
    return r;
  }

  // Drops the revived objects nobody holds: those whose only reference is
  // this cache (every redeemed membrane and narrowed view holds its target,
  // so a held one counts more), and those of a kind that keeps identity
  // itself that no live redeemed reference reaches (the kind holds them too,
  // and gives the same object back on the next revive).
  void sweep_live() {
    std::set<caps::ObjectId> reached;
    for (const Issued& i : issued)
      if (!i.control.revoked() && i.control.live_wrappers() > 0) reached.insert(i.token.object);
    std::erase_if(live, [&](const auto& e) {
      const detail::HandlerPtr& h = detail::RefAccess::handler(e.second.ref);
      if (!h || h->ref_count() == 1) return true;
      return e.second.kind_keeps_identity && !reached.contains(e.first);
    });
    live_sweep_at = std::max(kMinLiveSweep, 2 * live.size());
  }

  // Redeems, and logs the outcome (spec/log.md: redeem.granted,
  // redeem.refused with the token.md step that refused).
  Ref<Object> redeem(const Bytes& bytes, const std::optional<caps::VatKey>& peer) {
    const char* step = "1";
    try {
      return redeem_steps(bytes, peer, step);
    } catch (const VatError& e) {
      log_refused(peer, step, e.error().reason);
      throw;
    } catch (const std::exception& e) {
      log_refused(peer, step, e.what());
      throw;
    }
  }

  void log_refused(const std::optional<caps::VatKey>& peer, const char* step, const std::string& why) {
    if (!vat.log_enabled(LogLevel::warn)) return;
    std::string who = peer_text(peer), reason = utf8::printable(why);
    vat.log(LogEvent{LogLevel::warn,
                     "sturdyrefs",
                     "redeem.refused",
                     fmt::format("redeem by {} at token.md step {}: {}", who, step, reason),
                     {{"peer", who}, {"step", step}, {"reason", reason}}});
  }

  Ref<Object> redeem_steps(const Bytes& bytes, const std::optional<caps::VatKey>& peer, const char*& step) {
    auto decoded = caps::decode_token(bytes);  // step 1
    if (!decoded) refuse("malformed token");
    const caps::Token& t = decoded.value();
    step = "2";
    if (t.vat != self.bytes()) refuse("token is for another vat");  // step 2
    step = "3-6";
    Verified v = verify(t);  // steps 3-6
    step = "7";
    auto caveats = caps::parse_caveats(t.caveats);  // step 7
    if (!caveats) refuse("invalid caveat");
    const caps::Caveats& c = caveats.value();
    // token.md, Redeeming step 7 (time, with the Clock skew tolerance).
    if (auto why = caps::check_time(c, now(), options.clock_skew_seconds)) throw_error(ErrorKind::failed, *why);
    if (auto why = caps::check_holder(c, peer)) throw_error(ErrorKind::failed, *why);

    step = "revive";
    Ref<Object> target = revive(v.object);
    step = "8";
    if (c.has_fs_caveats()) {  // step 8
      const Kind& k = kinds.at(v.object.kind);
      if (!k.narrow) refuse("caveat does not apply to this object");
      target = k.narrow(target, c);
    }
    std::vector<std::shared_ptr<caps::MembranePolicy>> policies;
    policies.push_back(std::make_shared<caps::TimeWindow>(
        [self = weak_from_this()] {
          auto s = self.lock();
          return s ? s->now() : INT64_MAX;
        },
        c.not_before, c.expires, options.clock_skew_seconds));
    if (c.methods)
      policies.push_back(
          std::make_shared<caps::AllowMethodsAtRoot>(*c.methods, "refused: method not allowed by token"));
    std::string who = peer_text(peer), object = hex(t.object);
    auto m = caps::membrane(
        target, std::make_shared<LoggedPolicy>(std::make_shared<caps::AllOf>(std::move(policies)), vat, who, object));
    prune();
    issued.push_back(Issued{m.control, t});
    if (vat.log_enabled(LogLevel::info)) {
      std::string kind = utf8::printable(v.object.kind), name = utf8::printable(v.object.name);
      std::string summary = caveat_summary(c);
      vat.log(LogEvent{LogLevel::info,
                       "sturdyrefs",
                       "redeem.granted",
                       fmt::format("redeem by {} granted: {} {} ({}), {}", who, kind, name, object, summary),
                       {{"peer", who}, {"object", object}, {"kind", kind}, {"name", name}, {"caveats", summary}}});
    }
    return m.ref;
  }

  void prune() {
    std::erase_if(issued, [](const Issued& i) { return i.control.revoked() || i.control.live_wrappers() == 0; });
  }

  // spec/log.md: revoke. Only a verified token reaches the log.
  void log_revoked(const caps::Token& t, const StoredObject& o, const char* scope) {
    if (!vat.log_enabled(LogLevel::info)) return;
    std::string object = hex(t.object), kind = utf8::printable(o.kind), name = utf8::printable(o.name);
    vat.log(LogEvent{LogLevel::info,
                     "sturdyrefs",
                     "revoke",
                     fmt::format("revoked the {} of {} {} ({})", scope, kind, name, object),
                     {{"object", object}, {"kind", kind}, {"name", name}, {"scope", scope}}});
  }

  // Revoking is idempotent (spec/admin.md): a client whose answer was lost
  // must be able to send the same revoke again. So a token whose chain
  // verifies but which is dead already (its object, its own branch or an
  // ancestor branch revoked) answers "already" instead of the redeem's
  // "invalid token"; a forged or unknown token is still refused.
  std::string revoke(const caps::Token& t) {
    if (t.vat != self.bytes()) refuse("token is for another vat");
    auto obj = store.find(t.object);
    if (!obj) refuse("invalid token");
    caps::ObjectKey key = caps::derive_object_key(master, t.object);
    caps::ChainCheck check = caps::verify_chain(t, key, true);  // token.md, Redeeming steps 4-5
    if (!check.valid) refuse("invalid token");
    const Error cut{ErrorKind::failed, "refused: invalid token"};
    if (obj->revoked) return "already";
    if (t.caveats.empty()) {
      store.revoke_object(t.object);
      chains.forget_object(t.object);
      live.erase(t.object);
      for (auto& i : issued) {
        if (i.token.object == t.object) i.control.revoke(cut);
      }
      prune();
      log_revoked(t, *obj, "object");
      return "object";
    }
    for (const auto& rid : check.revocation_ids) {  // token.md, Redeeming step 6
      if (store.branch_revoked(rid)) return "already";
    }
    const caps::RevocationId& rid = check.revocation_ids.back();
    store.revoke_branch(t.object, rid);
    chains.forget_branch(rid);
    with_revoked_branches.insert(t.object);
    for (auto& i : issued) {
      if (i.token.object != t.object || i.token.caveats.size() < t.caveats.size()) continue;
      auto rids = caps::verify_chain(i.token, key, true).revocation_ids;
      if (std::find(rids.begin(), rids.end(), rid) != rids.end()) i.control.revoke(cut);
    }
    prune();
    log_revoked(t, *obj, "branch");
    return "branch";
  }
};

namespace {

class SessionRedeemer final : public Redeemer {
 public:
  SessionRedeemer(std::weak_ptr<Host::State> host, captp::VatId peer) : host_(std::move(host)), peer_(peer) {}
  Ref<Object> redeem(Bytes token) override {
    auto h = host_.lock();
    if (!h) throw_error(ErrorKind::disconnected, "the vat no longer serves sturdy refs");
    return h->redeem(token, peer_.bytes());
  }

 private:
  std::weak_ptr<Host::State> host_;
  captp::VatId peer_;
};

class AdminObject final : public Admin {
 public:
  explicit AdminObject(std::weak_ptr<Host::State> host) : host_(std::move(host)) {}
  std::string revoke(std::string sturdy_ref) override {
    auto ref = parse_sturdy_ref(sturdy_ref);
    if (!ref) refuse(fmt::format("not a sturdy ref: {}", ref.error()));
    return host()->revoke(ref.value().token);
  }
  std::vector<ObjectInfo> objects() override {
    auto h = host();
    std::vector<ObjectInfo> out;
    for (const auto& o : h->store.objects())
      out.push_back(ObjectInfo{hex(o.id), o.kind, o.name, o.created, o.revoked, h->live.contains(o.id)});
    return out;
  }
  Value stats() override {
    auto h = host();
    Value v = vat_stats(h->vat);
    if (v.type() != Value::Type::record) v = Value(Record{"stats", {}});
    auto& f = v.as_record().fields;
    captp::Node* node = h->serving_node();
    captp::NodeStats ns = node ? node->stats() : captp::NodeStats{};
    auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(h->vat.clock().now() - h->started).count();
    f.emplace_back("vat", h->vat.name());
    f.emplace_back("vat_id", h->self.to_text());
    f.emplace_back("uptime_ms", uptime);
    f.emplace_back("sessions", ns.sessions);
    f.emplace_back("handshakes_accepted", ns.handshakes_accepted);
    f.emplace_back("handshakes_failed", ns.handshakes_failed);
    return v;
  }
  Value tree() override { return supervision_tree(host()->vat); }
  Value crashes() override { return crash_log(host()->vat); }
  Value recorder() override { return recorder_dump(host()->vat); }
  Value sessions() override {
    captp::Node* node = host()->serving_node();
    return node ? node->sessions_info() : Value(List{});
  }
  Value persist() override {
    List out;
    for (const auto& view : host()->persist_views) out.push_back(view());
    return Value(std::move(out));
  }

 private:
  // Held by the call only: the host's `live` map holds this object, so a
  // member holding the host would be a cycle that outlives the Host (and its
  // Store, which the state refers to).
  std::shared_ptr<Host::State> host() {
    auto h = host_.lock();
    if (!h) throw_error(ErrorKind::disconnected, "the vat no longer serves sturdy refs");
    return h;
  }
  std::weak_ptr<Host::State> host_;
};

}  // namespace

Host::Host(Vat& vat, Store& store, HostOptions options)
    : state_(std::make_shared<State>(vat, store, std::move(options))) {
  std::weak_ptr<State> w = state_;
  add_kind(kAdminKind, Kind{[w, &vat](const StoredObject&) -> Ref<Object> { return vat.make<AdminObject>(w); }, {}});
}

Host::~Host() = default;

const captp::VatId& Host::id() const noexcept { return state_->self; }

void Host::add_kind(const std::string& name, Kind kind) { state_->kinds[name] = std::move(kind); }

void Host::add_persist_view(std::function<Value()> view) { state_->persist_views.push_back(std::move(view)); }

caps::Token Host::token_for(const std::string& name, const std::string& kind, const std::string& params) {
  Store& s = state_->store;
  auto o = s.find_named(name, kind, params);
  if (!o) o = s.add_object(kind, params, name);
  return caps::mint(caps::derive_object_key(state_->master, o->id), state_->self.bytes(), o->id);
}

caps::Token Host::admin_token() { return token_for("admin", kAdminKind, ""); }

std::string Host::sturdy_ref(const caps::Token& token) const {
  return format_sturdy_ref(SturdyRef{state_->self, state_->options.hints, token});
}

void Host::set_hints(std::vector<std::string> hints) { state_->options.hints = std::move(hints); }

void Host::serve_on(captp::Node& node) {
  state_->node = &node;
  state_->node_alive = node.lifetime();
  std::weak_ptr<State> w = state_;
  Vat* vat = &state_->vat;
  node.set_bootstrap_for(
      [w, vat](const captp::VatId& peer) -> Ref<Redeemer> { return vat->make<SessionRedeemer>(w, peer); });
}

Ref<Redeemer> Host::redeemer_for(const captp::VatId& peer) { return state_->vat.make<SessionRedeemer>(state_, peer); }

Ref<Object> Host::redeem(const Bytes& token, const std::optional<captp::VatId>& peer) {
  std::optional<caps::VatKey> key;
  if (peer) key = peer->bytes();
  return state_->redeem(token, key);
}

std::string Host::revoke(const caps::Token& token) { return state_->revoke(token); }

std::size_t Host::live_objects() const { return state_->live.size(); }

}  // namespace vatic::sturdyrefs
