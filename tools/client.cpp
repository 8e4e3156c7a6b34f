#include "tools/client.h"

#include <fmt/format.h>

namespace vatic::cli {

captp::NodeOptions node_options(const Common& c) {
  captp::NodeOptions o;
  if (!c.idle_timeout.empty()) {
    auto seconds = parse_duration(c.idle_timeout);
    if (!seconds || *seconds <= 0)
      throw CliError(kUsage,
                     fmt::format("--idle-timeout: {:?} is not a positive duration (2s, 90s, 15m, 1h)", c.idle_timeout));
    // Both ends should agree: a side pings after a third of its own timeout.
    o.channel.idle_timeout = std::chrono::seconds(*seconds);
  }
  return o;
}

Client::Client(const Common& common)
    : store_(sturdyrefs::Store::open(store_dir(common.store))),
      options_(node_options(common)),
      vat_(VatOptions{.name = "vatic-cli"}) {}

Client::~Client() {
  if (!node_) return;
  node_->close("command finished");
  vat_.run_until_idle();
  node_.reset();
}

captp::Node& Client::node_for(const captp::VatId& target) {
  if (node_) return *node_;
  captp::Identity me = store_->identity();
  // The operator's tools often share the server's store (and so its vat id);
  // a vat cannot dial itself, so such a command speaks as a one-off identity.
  if (me.id() == target) me = captp::Identity::generate();
  node_ = std::make_unique<captp::Node>(vat_, std::move(me), options_);
  return *node_;
}

Ref<Object> Client::enliven(const std::string& ref_text) {
  auto ref = sturdyrefs::parse_sturdy_ref(ref_text);
  if (!ref) throw CliError(kRefused, fmt::format("refused: not a valid sturdy ref: {}", ref.error()));
  Promise<Ref<Object>> p = sturdyrefs::enliven(node_for(ref.value().vat), ref.value());
  return wait(p);
}

}  // namespace vatic::cli
