// The trader side: TraderObject, the supervised object the market talks to,
// and the trader process that runs several of them under one Supervisor.
//
// A TraderObject holds nothing that matters: the holdings and the view of
// every deal live in its Vault, which the supervisor's start function hands to
// each new incarnation. So an injected crash (an exception escaping a turn)
// costs only the calls in flight, which break with "restarted, retry is safe"
// and which the market repeats; the reference the market holds designates the
// child's slot and keeps working across restarts.
//
// Threads: everything here runs on the trader process's vat thread.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "examples/exchange/protocol.h"
#include "examples/exchange/vault.h"

namespace exchange {

// The randomness of one trader process (seeded: a run can be repeated) and
// the chaos it injects.
class Chaos {
 public:
  Chaos(std::uint64_t seed, double crash_rate, double refuse_rate, std::int64_t (*wall_ms)())
      : rng_(seed), crash_rate_(crash_rate), refuse_rate_(refuse_rate), wall_ms_(wall_ms) {}
  // Inside a supervised turn: with probability crash_rate, journals the crash
  // in `v` (so the launcher counts every one) and crashes the child.
  void maybe_crash(Vault& v, std::string_view where);
  // Whether to answer a proposal with no (a trader that changed its mind).
  bool refuse() { return chance(refuse_rate_); }
  std::int64_t uniform(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }

 private:
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::mt19937_64 rng_;
  double crash_rate_, refuse_rate_;
  std::int64_t (*wall_ms_)();
};

class TraderObject : public Trader {
 public:
  TraderObject(Vault* vault, Chaos* chaos) : vault_(vault), chaos_(chaos) {}

  bool propose(Deal deal) override;
  std::string commit(std::string deal_id) override;
  std::string abort(std::string deal_id) override;
  // What to post next (asked by the process's ticker, which holds the seat).
  Quote quote();
  VATIC_METHODS(TraderObject, propose, commit, abort, quote)

 private:
  Vault* vault_;  // owned by the process; outlives every incarnation
  Chaos* chaos_;
};

// `exchange trader`: one trader process.
struct TraderArgs {
  std::string market;  // VATID@ADDR
  std::string dir;     // journals, keys and views live here
  std::string name;    // the process's name; traders are <name>-0, <name>-1, ...
  std::string role;    // buyer or seller
  int count = 3;
  double crash_rate = 0;
  double refuse_rate = 0.02;
  std::uint64_t seed = 1;
  int tick_ms = 20;
};
int trader_main(const TraderArgs& args);

}  // namespace exchange
