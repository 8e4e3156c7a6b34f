#include "sturdyrefs/enliven.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "sturdyrefs/redeemer.h"

namespace vatic::sturdyrefs {
namespace {

struct Attempt {
  captp::Node* node;
  std::weak_ptr<const void> node_alive;  // `node` may go before the answers do
  captp::VatId vat;
  std::vector<captp::Address> hints;
  Bytes token;
  std::string failures;
};

Promise<Ref<Object>> try_hint(std::shared_ptr<Attempt> a, std::size_t i) {
  Ref<Redeemer> boot = a->node->connect<Redeemer>(a->vat, a->hints[i]);
  Promise<Ref<Object>> p = boot.send<&Redeemer::redeem>(a->token);
  if (i + 1 == a->hints.size() && a->failures.empty()) return p;
  return p.catch_error([a, i](const Error& e) -> Promise<Ref<Object>> {
    // Only a failure to reach or authenticate the vat moves on to the next
    // hint; a refusal is the vat's answer and stands.
    if (e.kind != ErrorKind::disconnected || a->node_alive.expired()) return Promise<Ref<Object>>::broken(e);
    a->failures += fmt::format("{}{}", a->failures.empty() ? "" : "; ", e.reason);
    if (i + 1 < a->hints.size()) return try_hint(a, i + 1);
    return Promise<Ref<Object>>::broken(Error{ErrorKind::disconnected, a->failures});
  });
}

}  // namespace

Promise<Ref<Object>> enliven(captp::Node& node, const SturdyRef& ref) {
  auto a = std::make_shared<Attempt>(
      Attempt{&node, node.lifetime(), ref.vat, ref.addresses(), caps::encode_token(ref.token), {}});
  if (a->hints.empty()) {
    // No hints: only a session the node already has can serve.
    bool connected = false;
    for (const auto& s : node.sessions()) connected = connected || s.peer == ref.vat;
    if (!connected)
      return Promise<Ref<Object>>::broken(
          Error{ErrorKind::failed, fmt::format("the sturdy ref names no address for vat {}", ref.vat.to_text())});
    Ref<Redeemer> boot = node.connect<Redeemer>(ref.vat, captp::Address());
    return boot.send<&Redeemer::redeem>(a->token);
  }
  return try_hint(std::move(a), 0);
}

}  // namespace vatic::sturdyrefs
