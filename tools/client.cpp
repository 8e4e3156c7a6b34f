#include "tools/client.h"

#include <fmt/format.h>

namespace vatic::cli {

Client::Client(const std::filesystem::path& store)
    : store_(sturdyrefs::Store::open(store)), vat_(VatOptions{.name = "vatic-cli"}) {}

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
  node_ = std::make_unique<captp::Node>(vat_, std::move(me));
  return *node_;
}

Ref<Object> Client::enliven(const std::string& ref_text) {
  auto ref = sturdyrefs::parse_sturdy_ref(ref_text);
  if (!ref) throw CliError(kRefused, fmt::format("refused: not a valid sturdy ref: {}", ref.error()));
  Promise<Ref<Object>> p = sturdyrefs::enliven(node_for(ref.value().vat), ref.value());
  return wait(p);
}

}  // namespace vatic::cli
