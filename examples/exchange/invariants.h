// The end-of-run checks: what must hold after any amount of chaos, computed
// by the launcher from the market's ledger and status and from every trader's
// journal (replayed with the Vault code itself) and live view.
//
// Threads: plain functions on values; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "examples/exchange/protocol.h"
#include "examples/exchange/vault.h"

namespace exchange {

struct RunFacts {
  std::vector<LedgerEntry> ledger;
  MarketStatus market;
  std::vector<Vault> traders;                // replayed journals
  std::vector<std::string> journal_errors;   // journals that did not replay
  std::map<std::string, std::string> views;  // trader -> digest written by its live process at exit
  std::size_t expected_traders = 0;
  std::optional<std::int64_t> first_chaos_ms;  // earliest crash or kill (wall clock)
  std::int64_t unexpected_exits = 0;           // processes that died without being killed
  std::vector<std::string> process_problems;   // unclean exits at shutdown, market died
};

struct Check {
  std::string name;
  bool ok = true;
  std::vector<std::string> detail;  // the first few violations
};

std::vector<Check> check_invariants(const RunFacts& f);

// Ledger entries closed after `ms` (wall clock).
std::int64_t deals_after(const std::vector<LedgerEntry>& ledger, std::int64_t ms);

}  // namespace exchange
