// The exchange's protocol: the records that cross process boundaries and the
// interfaces that the market and the trader processes both include.
//
//   trader process (one of several)          market process
//   ┌───────────────────────────┐            ┌────────────────────────────────┐
//   │ Supervisor (one_for_one)  │  Exchange  │ MarketCore: order book,        │
//   │  ├ TraderObject s1-0 ─────┼──join────▶ │   handshakes, monitors         │
//   │  ├ TraderObject s1-1      │ ◀──Seat─── │ Ledger: records closed deals   │
//   │  └ TraderObject s1-2      │            │ Operator: the launcher's only  │
//   │ Vault per trader: journal │ ◀─propose, │                                │
//   │   file, outlives crashes  │   commit,  │                                │
//   └───────────────────────────┘   abort    └────────────────────────────────┘
//
// A deal closes by a three-way handshake that the market runs: (1) propose to
// both parties (each reserves and answers yes or no), (2) commit to both if
// both said yes, else abort to both, repeated until each side acknowledged,
// (3) only then the ledger records it. Every trader operation is idempotent,
// so any call may be repeated after a crash, a timeout or a restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "vat/codec.h"
#include "vat/object.h"
#include "vat/ref.h"

namespace exchange {

using namespace std::chrono_literals;

struct Deal {
  std::string id;  // unique per market run: "<epoch>-<n>"
  std::string buyer, seller;
  std::int64_t price = 0;  // cents per share
  std::int64_t qty = 0;    // shares
  friend bool operator==(const Deal&, const Deal&) = default;
  VATIC_FIELDS(Deal, id, buyer, seller, price, qty)
};

struct LedgerEntry {
  Deal deal;
  std::int64_t closed_ms = 0;  // wall clock (ms since the epoch) when the ledger recorded it
  VATIC_FIELDS(LedgerEntry, deal, closed_ms)
};

struct Quote {
  std::int64_t price = 0;
  std::int64_t qty = 0;  // zero: nothing to trade now
  VATIC_FIELDS(Quote, price, qty)
};

struct MarketStatus {
  std::int64_t deals = 0;             // recorded by the ledger
  std::int64_t proposed = 0;          // handshakes started
  std::int64_t aborted = 0;           // handshakes that ended in abort
  std::int64_t pending = 0;           // handshakes whose decision is not yet acknowledged by both sides
  std::int64_t traders = 0;           // names ever joined
  std::int64_t live_traders = 0;      // currently reachable
  std::int64_t restarts_seen = 0;     // monitors that reported a supervised restart
  std::int64_t dropped = 0;           // monitors that reported a lost trader (session gone)
  std::int64_t decision_retries = 0;  // commit/abort calls that broke or timed out and were repeated
  std::int64_t protocol_errors = 0;   // answers that contradict the decision (should stay 0)
  std::int64_t ledger_duplicates = 0;
  std::int64_t ledger_conflicts = 0;
  std::int64_t refused_posts = 0;
  bool closed = false;              // quiesced: no new matches
  std::vector<std::string> errors;  // the first few protocol errors, for the report
  VATIC_FIELDS(MarketStatus, deals, proposed, aborted, pending, traders, live_traders, restarts_seen, dropped,
               decision_retries, protocol_errors, ledger_duplicates, ledger_conflicts, refused_posts, closed, errors)
};

// What commit and abort answer. Anything else, or a "was-..." answer, is a
// protocol error the market counts.
inline constexpr const char* kCommitted = "committed";
inline constexpr const char* kAlreadyCommitted = "already-committed";
inline constexpr const char* kAborted = "aborted";
inline constexpr const char* kAlreadyAborted = "already-aborted";
inline constexpr const char* kUnknownDeal = "unknown";  // abort of a deal never reserved: fine
inline constexpr const char* kWasAborted = "was-aborted";
inline constexpr const char* kWasCommitted = "was-committed";

// A trader as the market sees it. Implemented by the supervised TraderObject.
class Trader : public vatic::Object {
 public:
  // Phase 1: reserve what the deal needs (shares or cash) and answer yes, or no.
  virtual bool propose(Deal deal) = 0;
  // Phase 2, after yes from both sides: make the reservation final.
  virtual std::string commit(std::string deal_id) = 0;
  // Phase 2 otherwise: release the reservation (if any) and never accept the deal later.
  virtual std::string abort(std::string deal_id) = 0;
  VATIC_METHODS(Trader, propose, commit, abort)
};

// A trader's right to post orders; the market hands one out per join and
// closes it when the trader rejoins or is dropped.
class Seat : public vatic::Object {
 public:
  // A limit order on the trader's side of the book; returns its order id. Past
  // kMaxOpenOrders the trader's oldest order is cancelled to make room.
  virtual std::int64_t post(std::int64_t price, std::int64_t qty) = 0;
  VATIC_METHODS(Seat, post)
};

// The market's bootstrap object for every peer but the operator. It knows the
// peer's authenticated vat id: a trader name belongs to the vat that joined it first.
class Exchange : public vatic::Object {
 public:
  virtual vatic::Ref<Seat> join(std::string name, std::string role, vatic::Ref<Trader> trader) = 0;
  VATIC_METHODS(Exchange, join)
};

// The launcher's view of the market, given only to the operator's vat id.
class Operator : public vatic::Object {
 public:
  virtual MarketStatus status() = 0;
  virtual std::vector<LedgerEntry> ledger(std::int64_t from, std::int64_t limit) = 0;
  // Stops matching (the book is cleared); handshakes under way still finish.
  virtual void quiesce() = 0;
  VATIC_METHODS(Operator, status, ledger, quiesce)
};

// Limits that bound what one peer can make the market hold.
inline constexpr std::int64_t kMaxPrice = 1'000'000;  // cents
inline constexpr std::int64_t kMaxQty = 1'000;
inline constexpr int kMaxOpenOrders = 4;  // per trader
inline constexpr int kMaxUnresolved = 8;  // handshakes per trader before its posts are refused
inline constexpr int kMaxTradersPerPeer = 16;
inline constexpr int kMaxTraders = 256;
inline constexpr std::size_t kMaxNameChars = 32;
inline constexpr std::int64_t kMaxLedgerPage = 1'000;

// A name or deal id: 1..kMaxNameChars*2 of [A-Za-z0-9-], so it is one token
// in a journal line.
bool valid_token(const std::string& s, std::size_t max = 2 * kMaxNameChars);

}  // namespace exchange
