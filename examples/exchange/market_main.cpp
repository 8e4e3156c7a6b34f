// `exchange market`: the market process. One vat with a CapTP node; the
// bootstrap object depends on who dialed (Node::set_bootstrap_for gives the
// authenticated vat id): the operator's vat (the launcher) gets the Operator
// facet, every other peer an Exchange facet bound to its vat id.
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "captp/node.h"
#include "examples/exchange/market.h"

namespace exchange {

namespace {

// The wall clock, for ledger times the launcher compares with crash and kill times.
std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int market_main(const MarketArgs& args) {
  using namespace vatic;
  std::optional<captp::VatId> op;
  if (!args.operator_id.empty()) {
    auto id = captp::VatId::parse(args.operator_id);
    if (!id) {
      fmt::print(stderr, "exchange market: bad --operator vat id: {}\n", id.error());
      return 2;
    }
    op = *id;
  }
  Vat vat(VatOptions{.name = "market"});
  // Declared after the vat, destroyed before it, but closed and released
  // explicitly below: no turn runs after it is gone.
  auto core = std::make_unique<MarketCore>(vat, vat.make<Ledger>(), fmt::format("{:x}", wall_ms()), &wall_ms);
  auto node = std::make_unique<captp::Node>(vat, captp::Identity::generate());
  MarketCore* raw = core.get();
  node->set_bootstrap_for([&vat, raw, op](const captp::VatId& peer) -> Ref<Object> {
    if (op && peer == *op) return vat.make<OperatorFacet>(raw);
    return vat.make<ExchangeFacet>(raw, peer.to_text());
  });
  boost::asio::signal_set signals(vat.io(), SIGTERM, SIGINT);
  signals.async_wait([&vat](const boost::system::error_code& ec, int) {
    if (!ec) vat.stop();
  });
  captp::Address bound;
  try {
    bound = node->listen(args.listen);
  } catch (const std::exception& e) {
    fmt::print(stderr, "exchange market: cannot listen on {}: {}\n", args.listen, e.what());
    return 1;
  }
  fmt::print("{} {}\n", node->id().to_text(), bound.to_string());
  std::fflush(stdout);
  vat.run();

  signals.cancel();
  core->close();
  node->close("market closing");
  vat.run_until_idle();
  node.reset();
  vat.run_until_idle();
  vat.release();
  core.reset();
  return 0;
}

}  // namespace exchange
