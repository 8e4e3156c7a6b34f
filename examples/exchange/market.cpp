#include "examples/exchange/market.h"

#include <algorithm>

#include <fmt/format.h>

#include "vat/monitor.h"

namespace exchange {

using vatic::ErrorKind;
using vatic::Ref;
using vatic::VatError;

namespace {

// A seat is a name plus the generation of the join that made it: after a
// rejoin or a drop the old seat refuses, so a stale holder cannot post.
class SeatImpl : public Seat {
 public:
  SeatImpl(MarketCore* core, std::string name, std::uint64_t generation)
      : core_(core), name_(std::move(name)), generation_(generation) {}
  std::int64_t post(std::int64_t price, std::int64_t qty) override {
    return core_->post(name_, generation_, price, qty);
  }
  VATIC_METHODS(SeatImpl, post)

 private:
  MarketCore* core_;
  std::string name_;
  std::uint64_t generation_;
};

// A send to a trader that cannot throw: an unusable reference gives a
// broken promise, which the handshake treats like any other failed call.
template <auto M, class... A>
auto call_trader(const Ref<Trader>& trader, vatic::Duration deadline, const A&... args) {
  using P = decltype(trader.template send<M>(args...));
  try {
    return vatic::with_timeout(trader.template send<M>(args...), deadline);
  } catch (...) {
    return P::broken(vatic::error_from_exception(std::current_exception()));
  }
}

}  // namespace

// --- Ledger

std::string Ledger::record(LedgerEntry e) {
  if (auto it = index_.find(e.deal.id); it != index_.end()) {
    // Idempotent: recording the same deal again changes nothing.
    if (entries_[it->second].deal == e.deal) {
      ++duplicates_;
      return "duplicate";
    }
    ++conflicts_;
    return "conflict";
  }
  index_.emplace(e.deal.id, entries_.size());
  entries_.push_back(std::move(e));
  return "recorded";
}

std::vector<LedgerEntry> Ledger::entries(std::int64_t from, std::int64_t limit) const {
  if (from < 0 || limit < 0) throw VatError(ErrorKind::failed, "ledger page out of range");
  limit = std::min(limit, kMaxLedgerPage);
  std::vector<LedgerEntry> out;
  for (auto i = static_cast<std::size_t>(from); i < entries_.size() && static_cast<std::int64_t>(out.size()) < limit;
       ++i)
    out.push_back(entries_[i]);
  return out;
}

// --- MarketCore

MarketCore::MarketCore(vatic::Vat& vat, Ref<Ledger> ledger, std::string epoch, std::int64_t (*wall_ms)(),
                       MarketOptions options)
    : vat_(vat), ledger_(std::move(ledger)), epoch_(std::move(epoch)), wall_ms_(wall_ms), options_(options) {
  sweeper_ = vat_.every(options_.retry_every, [this] { sweep(); });
}

MarketCore::~MarketCore() { close(); }

void MarketCore::close() {
  sweeper_.cancel();
  closed_ = true;
  bids_.clear();
  asks_.clear();
  handshakes_.clear();
  traders_.clear();
  ledger_ = {};
}

Ref<Seat> MarketCore::join(const std::string& peer, std::string name, std::string role, Ref<Trader> trader) {
  if (!valid_token(name, kMaxNameChars)) throw VatError(ErrorKind::failed, "a trader name is 1-32 of [A-Za-z0-9-]");
  if (role != "buyer" && role != "seller") throw VatError(ErrorKind::failed, "role must be buyer or seller");
  if (!trader || trader.kind() == vatic::RefKind::broken)
    throw VatError(ErrorKind::failed, "join needs a working trader reference");
  bool seller = role == "seller";
  auto it = traders_.find(name);
  if (it == traders_.end()) {
    auto owned = std::count_if(traders_.begin(), traders_.end(), [&](const auto& t) { return t.second.owner == peer; });
    if (owned >= kMaxTradersPerPeer || static_cast<int>(traders_.size()) >= kMaxTraders)
      throw VatError(ErrorKind::overloaded, "too many traders");
    it = traders_.emplace(name, TraderEntry{.owner = peer, .seller = seller}).first;
  } else {
    // A name belongs to the vat that joined it first: a restarted trader
    // process comes back with the same key, anybody else is refused.
    if (it->second.owner != peer) throw VatError(ErrorKind::failed, "trader name " + name + " belongs to another vat");
    if (it->second.seller != seller) throw VatError(ErrorKind::failed, "trader " + name + " joined with another role");
    remove_orders(name);
  }
  TraderEntry& t = it->second;
  t.ref = std::move(trader);
  t.generation = ++next_generation_;
  t.live = true;
  watch(name, t.generation);
  // Decisions that waited for this trader (its process was killed) go out now.
  for (auto& [id, h] : handshakes_)
    if (h.phase != Phase::proposing && (h.sides[0].name == name || h.sides[1].name == name)) push(h);
  return vat_.make<SeatImpl>(this, std::move(name), t.generation);
}

std::int64_t MarketCore::post(const std::string& name, std::uint64_t generation, std::int64_t price, std::int64_t qty) {
  auto it = traders_.find(name);
  if (it == traders_.end() || it->second.generation != generation || !it->second.live)
    throw VatError(ErrorKind::disconnected, "seat closed: the trader joined again or was dropped");
  TraderEntry& t = it->second;
  if (price < 1 || price > kMaxPrice || qty < 1 || qty > kMaxQty)
    throw VatError(ErrorKind::failed, "price or quantity out of range");
  if (closed_ || t.unresolved >= kMaxUnresolved) {
    ++refused_posts_;
    throw VatError(ErrorKind::overloaded, closed_ ? "market closed" : "too many deals under way");
  }
  if (t.open_orders >= kMaxOpenOrders) {
    // A new order replaces the trader's oldest: the book stays bounded and
    // fresh (orders that never cross do not block the trader until they expire).
    auto& book = t.seller ? asks_ : bids_;
    auto oldest = std::find_if(book.begin(), book.end(), [&](const Order& o) { return o.trader == name; });
    if (oldest != book.end()) {
      book.erase(oldest);
      --t.open_orders;
    }
  }
  Order o{++next_order_, name, price, qty, vat_.clock().now()};
  (t.seller ? asks_ : bids_).push_back(o);
  ++t.open_orders;
  match();
  return static_cast<std::int64_t>(o.id);
}

void MarketCore::match() {
  // Price priority, then time priority; the deal takes the resting order's price.
  auto bid_less = [](const Order& a, const Order& b) {
    return a.price < b.price || (a.price == b.price && a.id > b.id);
  };
  auto ask_less = [](const Order& a, const Order& b) {
    return a.price < b.price || (a.price == b.price && a.id < b.id);
  };
  while (!closed_ && !bids_.empty() && !asks_.empty()) {
    auto bid = std::max_element(bids_.begin(), bids_.end(), bid_less);
    auto ask = std::min_element(asks_.begin(), asks_.end(), ask_less);
    if (bid->price < ask->price) return;
    start_deal(*bid, *ask);
    std::int64_t q = std::min(bid->qty, ask->qty);
    bid->qty -= q;
    ask->qty -= q;
    if (bid->qty == 0) {
      --traders_.at(bid->trader).open_orders;
      bids_.erase(bid);
    }
    if (ask->qty == 0) {
      --traders_.at(ask->trader).open_orders;
      asks_.erase(ask);
    }
  }
}

void MarketCore::start_deal(const Order& bid, const Order& ask) {
  Deal d{fmt::format("{}-{}", epoch_, ++next_deal_), bid.trader, ask.trader, bid.id < ask.id ? bid.price : ask.price,
         std::min(bid.qty, ask.qty)};
  Handshake& h = handshakes_[d.id];
  h.deal = d;
  h.sides[0].name = d.buyer;
  h.sides[1].name = d.seller;
  ++proposed_;
  // Step 1: propose to both. A broken or late answer counts as no.
  for (int s = 0; s < 2; ++s) {
    TraderEntry& t = traders_.at(h.sides[s].name);
    ++t.unresolved;
    call_trader<&Trader::propose>(t.ref, options_.call_timeout, d)
        .then([this, id = d.id, s](bool yes) { on_answer(id, s, yes); },
              [this, id = d.id, s](const vatic::Error&) { on_answer(id, s, false); });
  }
}

void MarketCore::on_answer(const std::string& id, int side, bool yes) {
  auto it = handshakes_.find(id);
  if (it == handshakes_.end() || it->second.phase != Phase::proposing) return;
  Handshake& h = it->second;
  h.sides[side].answered = yes ? 1 : 2;
  if (!h.sides[0].answered || !h.sides[1].answered) return;
  // Step 2: the decision, taken once.
  bool commit = h.sides[0].answered == 1 && h.sides[1].answered == 1;
  h.phase = commit ? Phase::committing : Phase::aborting;
  if (!commit) ++aborted_;
  push(h);
}

void MarketCore::push(Handshake& h) {
  // Sends the decision to each side that has not acknowledged it and has no
  // call under way; a side whose trader is gone waits for its next join.
  for (int s = 0; s < 2; ++s) {
    Side& side = h.sides[s];
    if (side.acked || side.in_flight) continue;
    auto t = traders_.find(side.name);
    if (t == traders_.end() || !t->second.live) continue;
    side.in_flight = true;
    auto answer = h.phase == Phase::committing
                      ? call_trader<&Trader::commit>(t->second.ref, options_.call_timeout, h.deal.id)
                      : call_trader<&Trader::abort>(t->second.ref, options_.call_timeout, h.deal.id);
    answer.then([this, id = h.deal.id, s](const std::string& a) { on_ack(id, s, a); },
                [this, id = h.deal.id, s](const vatic::Error&) { on_nack(id, s); });
  }
}

void MarketCore::on_ack(const std::string& id, int side, const std::string& answer) {
  auto it = handshakes_.find(id);
  if (it == handshakes_.end()) return;
  Handshake& h = it->second;
  Side& s = h.sides[side];
  s.in_flight = false;
  if (s.acked) return;
  bool committing = h.phase == Phase::committing;
  bool ok = committing ? (answer == kCommitted || answer == kAlreadyCommitted)
                       : (answer == kAborted || answer == kAlreadyAborted || answer == kUnknownDeal);
  if (!ok) {
    protocol_error(fmt::format("{} answered {:?} to {} of {}", s.name, answer, committing ? "commit" : "abort", id));
    h.failed = true;
  }
  s.acked = true;
  if (h.sides[0].acked && h.sides[1].acked) finish(id);
}

void MarketCore::on_nack(const std::string& id, int side) {
  auto it = handshakes_.find(id);
  if (it == handshakes_.end()) return;
  it->second.sides[side].in_flight = false;
  ++retries_;  // the sweep repeats it (idempotent on the trader's side)
}

void MarketCore::finish(const std::string& id) {
  auto it = handshakes_.find(id);
  Handshake h = std::move(it->second);
  handshakes_.erase(it);
  for (const Side& s : h.sides)
    if (auto t = traders_.find(s.name); t != traders_.end()) --t->second.unresolved;
  // Step 3: both sides committed; only now does the ledger record the deal.
  if (h.phase != Phase::committing || h.failed) return;
  ledger_.send<&Ledger::record>(LedgerEntry{h.deal, wall_ms_()}).then([this, id = h.deal.id](const std::string& r) {
    if (r != "recorded") protocol_error(fmt::format("ledger answered {} for {}", r, id));
  });
}

void MarketCore::watch(const std::string& name, std::uint64_t generation) {
  TraderEntry& t = traders_.at(name);
  vatic::monitor(t.ref).then([this, name, generation](const vatic::Error& e) {
    auto it = traders_.find(name);
    if (it == traders_.end() || it->second.generation != generation || !it->second.live) return;  // stale
    // A supervised restart breaks only the incarnation: the reference (to the
    // child's slot) still works, so watch the next one. A lost session breaks
    // the reference itself: the trader is gone until its process joins again.
    bool restarted =
        it->second.ref.kind() != vatic::RefKind::broken && e.reason.find("retry is safe") != std::string::npos;
    if (restarted) {
      ++restarts_seen_;
      watch(name, generation);
    } else {
      drop(name);
    }
  });
}

void MarketCore::drop(const std::string& name) {
  TraderEntry& t = traders_.at(name);
  t.live = false;
  t.ref = {};
  ++dropped_;
  remove_orders(name);
}

void MarketCore::remove_orders(const std::string& name) {
  auto mine = [&](const Order& o) { return o.trader == name; };
  std::erase_if(bids_, mine);
  std::erase_if(asks_, mine);
  traders_.at(name).open_orders = 0;
}

void MarketCore::sweep() {
  auto now = vat_.clock().now();
  auto expired = [&](const Order& o) {
    if (now - o.at < options_.order_ttl) return false;
    --traders_.at(o.trader).open_orders;
    return true;
  };
  std::erase_if(bids_, expired);
  std::erase_if(asks_, expired);
  for (auto& [id, h] : handshakes_)
    if (h.phase != Phase::proposing) push(h);
}

MarketStatus MarketCore::status() const {
  MarketStatus s;
  if (ledger_) {
    s.deals = ledger_.call<&Ledger::size>();
    s.ledger_duplicates = ledger_.call<&Ledger::duplicates>();
    s.ledger_conflicts = ledger_.call<&Ledger::conflicts>();
  }
  s.proposed = proposed_;
  s.aborted = aborted_;
  s.pending = static_cast<std::int64_t>(handshakes_.size());
  s.traders = static_cast<std::int64_t>(traders_.size());
  s.live_traders = std::count_if(traders_.begin(), traders_.end(), [](const auto& t) { return t.second.live; });
  s.restarts_seen = restarts_seen_;
  s.dropped = dropped_;
  s.decision_retries = retries_;
  s.protocol_errors = protocol_errors_;
  s.refused_posts = refused_posts_;
  s.closed = closed_;
  s.errors = errors_;
  return s;
}

std::vector<LedgerEntry> MarketCore::ledger(std::int64_t from, std::int64_t limit) const {
  if (!ledger_) throw VatError(ErrorKind::disconnected, "market closed");
  return ledger_.call<&Ledger::entries>(from, limit);
}

void MarketCore::quiesce() {
  closed_ = true;
  bids_.clear();
  asks_.clear();
  for (auto& [name, t] : traders_) t.open_orders = 0;
}

void MarketCore::protocol_error(std::string what) {
  ++protocol_errors_;
  if (errors_.size() < 10) errors_.push_back(std::move(what));
}

}  // namespace exchange
