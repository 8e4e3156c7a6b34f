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
#include "tools/commands.h"
#include "vat/vat.h"

namespace vatic::cli {

// The node options the common flags ask for (--idle-timeout); a bad value is
// a usage error (CliError, exit 2). `vatic serve` uses them too.
captp::NodeOptions node_options(const Common& c);

class Client {
 public:
  // The store and node options of the command's common flags.
  explicit Client(const Common& common);
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
  captp::NodeOptions options_;
  Vat vat_;
  std::unique_ptr<captp::Node> node_;
};

}  // namespace vatic::cli
