// exchange: the stock exchange example (README.md, "The exchange example").
//
//   exchange run [--traders N] [--per-process K] [--seconds S] [--crash-rate P]
//                [--kill-every S] [--seed N] [--dir DIR] [--keep]
//   exchange market --listen ADDR [--operator VATID]      (started by run)
//   exchange trader --market VATID@ADDR --dir DIR ...      (started by run)
//
// One binary, three roles: the launcher starts the other two as processes of
// this same executable.
#include <CLI/CLI.hpp>

#include <csignal>

#include "examples/exchange/launcher.h"
#include "examples/exchange/market.h"
#include "examples/exchange/trader.h"

int main(int argc, char** argv) {
  // A peer hanging up while we write is an error on that session, not a signal.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"exchange: a stock exchange of supervised traders, a market and a ledger, with chaos"};
  app.require_subcommand(1);

  exchange::RunOptions run;
  auto* r = app.add_subcommand("run", "start a market and trader processes, trade, check the invariants, print JSON");
  r->add_option("--traders", run.trader_processes, "trader processes, alternately sellers and buyers (2-8)");
  r->add_option("--per-process", run.per_process, "supervised traders per process (1-8)");
  r->add_option("--seconds", run.seconds, "how long to trade");
  r->add_option("--crash-rate", run.crash_rate, "probability that a trader call crashes its trader");
  r->add_option("--refuse-rate", run.refuse_rate, "probability that a trader declines a proposal");
  r->add_option("--kill-every", run.kill_every, "SIGKILL a random trader process every S seconds (0: never)");
  r->add_option("--seed", run.seed, "seed of every random choice");
  r->add_option("--tick-ms", run.tick_ms, "how often each trader quotes");
  r->add_option("--drain-seconds", run.drain_seconds, "bound on finishing handshakes after trading stops");
  r->add_option("--dir", run.dir, "new or empty state directory (journals, keys); default a temporary one");
  r->add_flag("--keep", run.keep, "keep the temporary state directory");

  exchange::MarketArgs market;
  auto* m = app.add_subcommand("market", "serve the market (prints '<vat id> <address>')");
  m->add_option("--listen", market.listen, "host:port or unix:PATH")->required();
  m->add_option("--operator", market.operator_id, "the vat id given the Operator facet");

  exchange::TraderArgs trader;
  auto* t = app.add_subcommand("trader", "run supervised traders that join the market");
  t->add_option("--market", trader.market, "the market as VATID@ADDR")->required();
  t->add_option("--dir", trader.dir, "state directory (journals, key, views)")->required();
  t->add_option("--name", trader.name, "process name; traders are NAME-0, NAME-1, ...")->required();
  t->add_option("--role", trader.role, "buyer or seller")->required();
  t->add_option("--count", trader.count, "traders in this process");
  t->add_option("--crash-rate", trader.crash_rate, "probability that a call crashes its trader");
  t->add_option("--refuse-rate", trader.refuse_rate, "probability that a trader declines a proposal");
  t->add_option("--seed", trader.seed, "seed of this process's random choices");
  t->add_option("--tick-ms", trader.tick_ms, "how often each trader quotes");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*r) return exchange::run_main(run);
    if (*m) return exchange::market_main(market);
    return exchange::trader_main(trader);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exchange: %s\n", e.what());
    return 1;
  }
}
