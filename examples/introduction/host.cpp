// The host C and the introducer B (roles.h). Both serve until SIGTERM or
// SIGINT, then close their node and exit 0.
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "captp/node.h"
#include "examples/introduction/protocol.h"
#include "examples/introduction/roles.h"
#include "vat/vat.h"

namespace introduction {

namespace {

using namespace vatic;

class CounterImpl final : public Counter {
 public:
  explicit CounterImpl(std::string vat) : vat_(std::move(vat)) {}
  Tick next() override { return {++count_, vat_}; }

 private:
  std::int64_t count_ = 0;
  std::string vat_;
};

class IntroducerImpl final : public Introducer {
 public:
  explicit IntroducerImpl(Ref<Counter> counter) : counter_(std::move(counter)) {}
  // B's reference is an import from C: with handoff on both of B's sessions,
  // B describes it to the caller as thirdPartyHosted (spec/captp.md 11, H2-H4);
  // otherwise as its own export, a proxy (section 4).
  Ref<Counter> counter() override { return counter_; }

 private:
  Ref<Counter> counter_;
};

captp::NodeOptions options(bool handoff) {
  captp::NodeOptions o;
  o.session.handoff = handoff;  // explicit: the library's default may change
  return o;
}

// Listens, prints "<role> VATID ADDR" and "ready", serves until a signal.
int serve(Vat& vat, captp::Node& node, const std::string& role, const std::string& listen) {
  captp::Address bound;
  try {
    bound = node.listen(listen);
  } catch (const std::exception& e) {
    fmt::print(stderr, "introduction {}: cannot listen on {}: {}\n", role, listen, e.what());
    return 1;
  }
  boost::asio::signal_set signals(vat.io(), SIGTERM, SIGINT);
  signals.async_wait([&vat](const boost::system::error_code& ec, int) {
    if (!ec) vat.stop();
  });
  // With handoff, the node announces `bound` to its peers (H1): the hint a
  // recipient dials.
  fmt::print("{} {} {}\nready\n", role, node.id().to_text(), bound.to_string());
  std::fflush(stdout);
  vat.run();
  signals.cancel();
  node.close(role + " stopping");
  vat.run_until_idle();
  return 0;
}

}  // namespace

// Prints "host VATID ADDR", then "ready".
int host_main(const HostArgs& args) {
  Vat vat(VatOptions{.name = "host"});
  captp::Node node(vat, captp::Identity::generate(), options(args.handoff));
  node.set_bootstrap(vat.make<CounterImpl>(node.id().to_text()));
  return serve(vat, node, "host", args.listen);
}

// Prints "introducer VATID ADDR", then "ready", once it holds C's Counter.
int introducer_main(const IntroducerArgs& args) {
  auto host = captp::VatId::parse(args.host_id);
  if (!host) {
    fmt::print(stderr, "introduction introducer: bad --host-id: {}\n", host.error());
    return 2;
  }
  auto at = captp::Address::parse(args.host_at);
  if (!at) {
    fmt::print(stderr, "introduction introducer: bad --host-at: {}\n", at.error());
    return 2;
  }
  Vat vat(VatOptions{.name = "introducer"});
  captp::Node node(vat, captp::Identity::generate(), options(args.handoff));
  Ref<Counter> counter = node.connect<Counter>(*host, *at);
  // Settled before it is handed out, so that B holds an import of C's object
  // and not the bootstrap's pending answer, which would go to A as a promise
  // of B's (H2 1). The answer also says whether the host is the vat we meant.
  // The count this call takes is the host's first: A's answers start at 2.
  Tick first;
  try {
    first = vat.wait(counter.send<&Counter::next>());
  } catch (const VatError& e) {
    fmt::print(stderr, "introduction introducer: the host at {} did not answer: {}\n", args.host_at,
               to_string(e.error()));
    return 1;
  }
  if (first.vat != host->to_text()) {
    fmt::print(stderr, "introduction introducer: the host answered as {}\n", first.vat);
    return 1;
  }
  node.set_bootstrap(vat.make<IntroducerImpl>(counter));
  return serve(vat, node, "introducer", args.listen);
}

}  // namespace introduction
