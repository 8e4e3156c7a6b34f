// ledger_client: redeems a Ledger's sturdy ref and makes one call.
//
//   ledger_client REF deposit ACCOUNT AMOUNT      prints "ACCOUNT BALANCE"
//   ledger_client REF transfer FROM TO AMOUNT     prints "FROM BALANCE" and "TO BALANCE"
//   ledger_client REF balance ACCOUNT             prints "ACCOUNT BALANCE"
//   ledger_client REF list                        prints "ACCOUNT BALANCE" per account, then "transfers N"
//
// Exits 0 on success, 1 when the ledger refuses (insufficient funds, no such
// account) or cannot be reached, 2 on bad usage.
#include <charconv>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "captp/node.h"
#include "ledger.h"
#include "sturdyrefs/enliven.h"
#include "sturdyrefs/uri.h"
#include "vat/vat.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: ledger_client REF deposit ACCOUNT AMOUNT | transfer FROM TO AMOUNT | balance ACCOUNT | list\n");
  return 2;
}

std::optional<std::int64_t> amount(std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 3) return usage();
  std::vector<std::string> a(argv + 2, argv + argc);
  auto ref = vatic::sturdyrefs::parse_sturdy_ref(argv[1]);
  if (!ref) {
    std::fprintf(stderr, "ledger_client: not a sturdy ref: %s\n", ref.error().c_str());
    return 2;
  }
  std::optional<std::int64_t> n;
  if (a[0] == "deposit" && a.size() == 3) {
    n = amount(a[2]);
  } else if (a[0] == "transfer" && a.size() == 4) {
    n = amount(a[3]);
  } else if ((a[0] == "balance" && a.size() == 2) || (a[0] == "list" && a.size() == 1)) {
    n = 0;
  }
  if (!n) return usage();

  vatic::Vat vat;
  vatic::captp::Node node(vat, vatic::captp::Identity::generate());
  // Usable at once: the call is pipelined behind the dial and the redeem.
  auto book = vatic::sturdyrefs::enliven_as<ledger::Ledger>(node, *ref);
  if (a[0] == "deposit") {
    std::printf("%s %lld\n", a[1].c_str(),
                static_cast<long long>(vat.wait(book.send<&ledger::Ledger::deposit>(a[1], *n))));
  } else if (a[0] == "transfer") {
    std::vector<std::int64_t> after = vat.wait(book.send<&ledger::Ledger::transfer>(a[1], a[2], *n));
    std::printf("%s %lld\n%s %lld\n", a[1].c_str(), static_cast<long long>(after.at(0)), a[2].c_str(),
                static_cast<long long>(after.at(1)));
  } else if (a[0] == "balance") {
    std::printf("%s %lld\n", a[1].c_str(), static_cast<long long>(vat.wait(book.send<&ledger::Ledger::balance>(a[1]))));
  } else {
    // Two calls on one reference arrive in the order sent (E-order).
    auto accounts = book.send<&ledger::Ledger::accounts>();
    auto transfers = book.send<&ledger::Ledger::transfers>();
    for (const auto& acct : vat.wait(std::move(accounts)))
      std::printf("%s %lld\n", acct.name.c_str(), static_cast<long long>(acct.balance));
    std::printf("transfers %lld\n", static_cast<long long>(vat.wait(std::move(transfers))));
  }
  node.close("done");
  vat.run_until_idle();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ledger_client: %s\n", e.what());
  return 1;
}
