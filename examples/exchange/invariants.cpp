#include "examples/exchange/invariants.h"

#include <set>

#include <fmt/format.h>

namespace exchange {

namespace {

constexpr std::size_t kMaxDetail = 5;

void violation(Check& c, std::string what) {
  c.ok = false;
  if (c.detail.size() < kMaxDetail) c.detail.push_back(std::move(what));
}

std::string show(const Deal& d) {
  return fmt::format("{} ({} buys {} at {} from {})", d.id, d.buyer, d.qty, d.price, d.seller);
}

}  // namespace

std::int64_t deals_after(const std::vector<LedgerEntry>& ledger, std::int64_t ms) {
  std::int64_t n = 0;
  for (const auto& e : ledger)
    if (e.closed_ms > ms) ++n;
  return n;
}

std::vector<Check> check_invariants(const RunFacts& f) {
  std::map<std::string, const Vault*> by_name;
  for (const auto& v : f.traders) by_name[v.name()] = &v;
  std::map<std::string, const Deal*> ledger_by_id;
  std::vector<Check> out;

  Check unique{"no_deal_recorded_twice"};
  for (const auto& e : f.ledger)
    if (!ledger_by_id.emplace(e.deal.id, &e.deal).second)
      violation(unique, "deal id twice in the ledger: " + e.deal.id);
  if (f.market.ledger_conflicts != 0)
    violation(unique, fmt::format("the ledger refused {} conflicting records", f.market.ledger_conflicts));
  out.push_back(unique);

  // Every ledger entry is what both parties committed: same id, price,
  // quantity, buyer and seller.
  Check matches{"ledger_matches_both_parties"};
  for (const auto& e : f.ledger) {
    for (const std::string& party : {e.deal.buyer, e.deal.seller}) {
      auto v = by_name.find(party);
      if (v == by_name.end()) {
        violation(matches, fmt::format("{}: no journal for {}", show(e.deal), party));
        continue;
      }
      auto c = v->second->committed().find(e.deal.id);
      if (c == v->second->committed().end())
        violation(matches, fmt::format("{}: {} did not commit it", show(e.deal), party));
      else if (!(c->second == e.deal))
        violation(matches, fmt::format("{}: {} committed {}", show(e.deal), party, show(c->second)));
    }
  }
  out.push_back(matches);

  // No deal closed on one side only: whatever a trader committed, its
  // counterparty committed too and the ledger recorded.
  Check one_sided{"no_deal_closed_on_one_side_only"};
  for (const auto& v : f.traders) {
    for (const auto& [id, d] : v.committed()) {
      const std::string& other = v.role() == Role::buyer ? d.seller : d.buyer;
      auto o = by_name.find(other);
      if (o == by_name.end() || !o->second->committed().count(id))
        violation(one_sided, fmt::format("{} committed {} but {} did not", v.name(), show(d), other));
      if (!ledger_by_id.count(id))
        violation(one_sided, fmt::format("{} committed {} but the ledger lacks it", v.name(), id));
    }
  }
  out.push_back(one_sided);

  // After the drain every handshake has ended: no reservation is left waiting
  // for a decision, and the market has none waiting for an acknowledgement.
  Check doubt{"no_deal_left_in_doubt"};
  for (const auto& v : f.traders)
    for (const auto& [id, d] : v.reserved())
      violation(doubt, fmt::format("{} still holds a reservation for {}", v.name(), id));
  if (f.market.pending != 0) violation(doubt, fmt::format("the market has {} handshakes unfinished", f.market.pending));
  out.push_back(doubt);

  // Nothing created or destroyed: deals only move cash and shares between traders.
  Check conserved{"cash_and_shares_conserved"};
  std::int64_t cash = 0, shares = 0, cash0 = 0, shares0 = 0;
  for (const auto& v : f.traders) {
    cash += v.cash();
    shares += v.shares();
    cash0 += v.initial_cash();
    shares0 += v.initial_shares();
  }
  if (cash != cash0) violation(conserved, fmt::format("cash {} != initial {}", cash, cash0));
  if (shares != shares0) violation(conserved, fmt::format("shares {} != initial {}", shares, shares0));
  out.push_back(conserved);

  // Every trader's journal replays, there is one per trader, and what each
  // live process believed at exit is what its journal says.
  Check views{"live_views_match_journals"};
  for (const auto& e : f.journal_errors) violation(views, e);
  if (f.traders.size() != f.expected_traders)
    violation(views, fmt::format("{} journals for {} traders", f.traders.size(), f.expected_traders));
  for (const auto& v : f.traders) {
    auto live = f.views.find(v.name());
    if (live == f.views.end())
      violation(views, v.name() + " wrote no view at exit");
    else if (live->second != v.digest())
      violation(views, fmt::format("{}: live view {} but journal {}", v.name(), live->second, v.digest()));
  }
  out.push_back(views);

  Check protocol{"no_protocol_errors"};
  if (f.market.protocol_errors != 0) {
    violation(protocol, fmt::format("{} protocol errors", f.market.protocol_errors));
    for (const auto& e : f.market.errors) violation(protocol, e);
  }
  out.push_back(protocol);

  Check trading{"market_kept_trading_through_chaos"};
  if (f.ledger.empty()) violation(trading, "no deal was closed");
  if (f.first_chaos_ms && deals_after(f.ledger, *f.first_chaos_ms) == 0)
    violation(trading, "no deal was closed after the first crash or kill");
  out.push_back(trading);

  Check processes{"processes_healthy"};
  if (f.unexpected_exits != 0)
    violation(processes, fmt::format("{} process(es) died without being killed", f.unexpected_exits));
  for (const auto& p : f.process_problems) violation(processes, p);
  out.push_back(processes);
  return out;
}

}  // namespace exchange
