// Client: the vat a client command runs in. It has the identity kept in the
// command's store (so tokens bound to that identity can be redeemed), a CapTP
// node, and waits for promises on the calling thread, turning broken ones into
// CliErrors with the exit code their error means.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "captp/node.h"
#include "sturdyrefs/enliven.h"
#include "sturdyrefs/store.h"
#include "tools/cli_util.h"
#include "vat/vat.h"

namespace vatic::cli {

class Client {
 public:
  explicit Client(const std::filesystem::path& store);
  ~Client();

  Vat& vat() { return vat_; }

  // Parses a sturdy ref (refusing a malformed one with exit code 3) and
  // enlivens it, waiting until the vat has answered the redeem.
  template <class T>
  Ref<T> open(const std::string& ref_text) {
    auto p = enliven(ref_text);
    return detail::ref_from_handler<T>(detail::RefAccess::handler(p));
  }

  template <class T>
  T wait(Promise<T> p) {
    try {
      return vat_.wait(std::move(p));
    } catch (const VatError& e) {
      throw CliError(exit_code_for(e.error()), e.error().reason);
    }
  }

 private:
  Ref<Object> enliven(const std::string& ref_text);
  // The node, made on first use with the store's identity (see client.cpp).
  captp::Node& node_for(const captp::VatId& target);

  std::unique_ptr<sturdyrefs::Store> store_;
  Vat vat_;
  std::unique_ptr<captp::Node> node_;
};

}  // namespace vatic::cli
