// `exchange run`: the launcher, the OS-level supervisor of the exchange. It
// starts the market and the trader processes (fork/exec of this binary),
// optionally SIGKILLs a random trader process every few seconds and starts
// it again, then drains the market, stops everything, checks the invariants
// (invariants.h) and prints a JSON summary. Exit status 0 only if every
// invariant holds; 1 otherwise; 2 for bad arguments.
//
// The launcher is itself a vat with a CapTP node: the market serves it the
// Operator facet because its vat id was given on the market's command line.
#pragma once

#include <cstdint>
#include <string>

namespace exchange {

struct RunOptions {
  int trader_processes = 2;   // alternately sellers and buyers (2-8)
  int per_process = 3;        // supervised traders in each
  double seconds = 10;        // of trading
  double crash_rate = 0;      // per trader call
  double refuse_rate = 0.02;  // proposals a trader declines
  double kill_every = 0;      // seconds between SIGKILLs of a trader process; 0: never
  std::uint64_t seed = 1;
  int tick_ms = 20;           // how often each trader quotes
  double drain_seconds = 10;  // bound on finishing handshakes after trading stops
  std::string dir;            // new or empty state directory; empty: a temporary one, removed after
  bool keep = false;          // keep the temporary directory
};

int run_main(const RunOptions& options);

}  // namespace exchange
