// The market: the order book, the coordinator of every deal's three-way
// handshake, the ledger, and the facets that peers reach.
//
// MarketCore is a plain object of the market process's main(), used only on
// the vat's thread; it outlives every turn of the vat (main releases the vat
// before destroying it), which is why its callbacks may hold `this`.
//
// The rules that keep the invariants (see README.md, "The exchange example"):
// - a deal id is made once ("<epoch>-<n>"); the ledger refuses a second
//   record of an id, and records a deal only once both parties acknowledged
//   the commit;
// - the decision (commit only if both said yes within the deadline) is taken
//   once and then repeated to each side until that side acknowledges it, also
//   across a trader's restart or its process being killed and started again
//   (the decision waits for the trader to join again);
// - every remote call carries a deadline (with_timeout); a broken or late
//   answer to a proposal is a no;
// - a monitor on each trader reference tells a supervised restart (the
//   reference still works: watch again) from a lost trader (drop its orders).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "examples/exchange/protocol.h"
#include "vat/vat.h"

namespace exchange {

// Records closed deals. Idempotent: the same deal again is a duplicate (no
// change); another deal under a recorded id is a conflict (refused).
class Ledger : public vatic::Object {
 public:
  std::string record(LedgerEntry e);
  std::vector<LedgerEntry> entries(std::int64_t from, std::int64_t limit) const;
  std::int64_t size() const { return static_cast<std::int64_t>(entries_.size()); }
  std::int64_t duplicates() const { return duplicates_; }
  std::int64_t conflicts() const { return conflicts_; }
  VATIC_METHODS(Ledger, record, entries, size, duplicates, conflicts)

 private:
  std::vector<LedgerEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
  std::int64_t duplicates_ = 0, conflicts_ = 0;
};

struct MarketOptions {
  vatic::Duration call_timeout = 1s;    // every propose, commit and abort
  vatic::Duration retry_every = 200ms;  // repeats unacknowledged decisions
  vatic::Duration order_ttl = 1s;       // unmatched orders expire
};

class MarketCore {
 public:
  // `epoch` prefixes deal ids; `wall_ms` reads the wall clock for ledger times.
  MarketCore(vatic::Vat& vat, vatic::Ref<Ledger> ledger, std::string epoch, std::int64_t (*wall_ms)(),
             MarketOptions options = {});
  MarketCore(const MarketCore&) = delete;
  MarketCore& operator=(const MarketCore&) = delete;
  ~MarketCore();

  // Called by the facets (arguments already came through a codec; checked here).
  vatic::Ref<Seat> join(const std::string& peer, std::string name, std::string role, vatic::Ref<Trader> trader);
  std::int64_t post(const std::string& name, std::uint64_t generation, std::int64_t price, std::int64_t qty);
  MarketStatus status() const;
  std::vector<LedgerEntry> ledger(std::int64_t from, std::int64_t limit) const;
  void quiesce();
  // Forgets traders, handshakes and the ledger reference (before the vat is released).
  void close();

 private:
  struct TraderEntry {
    std::string owner;  // vat id of the peer that joined the name first
    bool seller = false;
    vatic::Ref<Trader> ref;
    std::uint64_t generation = 0;  // bumped by every join: stale monitors and seats are ignored
    bool live = false;
    int open_orders = 0;
    int unresolved = 0;  // handshakes not yet finished
  };
  struct Order {
    std::uint64_t id;
    std::string trader;
    std::int64_t price, qty;
    vatic::TimePoint at;
  };
  enum class Phase : unsigned char { proposing, committing, aborting };
  struct Side {
    std::string name;
    int answered = 0;  // proposing: 0 waiting, 1 yes, 2 no
    bool acked = false;
    bool in_flight = false;
  };
  struct Handshake {
    Deal deal;
    Phase phase = Phase::proposing;
    Side sides[2];  // buyer, seller
    bool failed = false;
  };

  void match();
  void start_deal(const Order& bid, const Order& ask);
  void on_answer(const std::string& id, int side, bool yes);
  void push(Handshake& h);
  void on_ack(const std::string& id, int side, const std::string& answer);
  void on_nack(const std::string& id, int side);
  void finish(const std::string& id);
  void watch(const std::string& name, std::uint64_t generation);
  void drop(const std::string& name);
  void remove_orders(const std::string& name);
  void sweep();
  void protocol_error(std::string what);

  vatic::Vat& vat_;
  vatic::Ref<Ledger> ledger_;
  std::string epoch_;
  std::int64_t (*wall_ms_)();
  MarketOptions options_;
  vatic::Timer sweeper_;
  bool closed_ = false;

  std::map<std::string, TraderEntry> traders_;
  std::vector<Order> bids_, asks_;
  std::map<std::string, Handshake> handshakes_;
  std::uint64_t next_order_ = 0, next_deal_ = 0, next_generation_ = 0;

  std::int64_t proposed_ = 0, aborted_ = 0, restarts_seen_ = 0, dropped_ = 0, retries_ = 0, protocol_errors_ = 0,
               refused_posts_ = 0;
  std::vector<std::string> errors_;
};

// The bootstrap object a trader process's session gets: bound to the peer's vat id.
class ExchangeFacet : public Exchange {
 public:
  ExchangeFacet(MarketCore* core, std::string peer) : core_(core), peer_(std::move(peer)) {}
  vatic::Ref<Seat> join(std::string name, std::string role, vatic::Ref<Trader> trader) override {
    return core_->join(peer_, std::move(name), std::move(role), std::move(trader));
  }
  VATIC_METHODS(ExchangeFacet, join)

 private:
  MarketCore* core_;
  std::string peer_;
};

class OperatorFacet : public Operator {
 public:
  explicit OperatorFacet(MarketCore* core) : core_(core) {}
  MarketStatus status() override { return core_->status(); }
  std::vector<LedgerEntry> ledger(std::int64_t from, std::int64_t limit) override { return core_->ledger(from, limit); }
  void quiesce() override { core_->quiesce(); }
  VATIC_METHODS(OperatorFacet, status, ledger, quiesce)

 private:
  MarketCore* core_;
};

// `exchange market`: serves the market until SIGTERM. Prints "<vat id> <address>".
struct MarketArgs {
  std::string listen;       // host:port or unix:/path
  std::string operator_id;  // the launcher's vat id: the only peer given the Operator facet
};
int market_main(const MarketArgs& args);

}  // namespace exchange
