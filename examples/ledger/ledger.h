// Ledger: a persistent object holding accounts with balances, for copying
// (examples/ledger/). Its state lives in its key-value store (kv), one key
// per account, so it survives passivation, restarts and a SIGKILL of its
// server: every answer leaves the server only after the writes of its call
// are committed (spec/persistence.md 4).
//
// Each method is one transactional call (spec/persistence.md 3): transfer()
// writes the debit and the credit, then refuses an overdraft by throwing, and
// the throw rolls both writes back; only that call's answer breaks.
//
// Both programs include this header: the server registers the kind with its
// persist::Host, the client names the methods it sends (a client never makes
// a Ledger itself; it holds a reference to the server's).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "persist/persistent.h"
#include "vat/error.h"

namespace ledger {

// One line of accounts(): an account and its balance.
struct Account {
  std::string name;
  std::int64_t balance = 0;
  VATIC_FIELDS(Account, name, balance)
};

class Ledger : public vatic::persist::Persistent {
 public:
  // Adds `amount` (> 0) to `account`, opening it on first use; the new balance.
  std::int64_t deposit(std::string account, std::int64_t amount) {
    check_amount(amount);
    std::int64_t now = balance_of(account);
    if (now > std::numeric_limits<std::int64_t>::max() - amount)
      throw vatic::VatError(vatic::ErrorKind::failed, "the balance would overflow");
    kv().put(key(account), now + amount);
    return now + amount;
  }

  // Moves `amount` (> 0) from `from` to `to`; the balances after, [from, to].
  // Throws "insufficient funds" when `from` holds less: both writes below
  // are then rolled back, as is every write of a call that throws.
  std::vector<std::int64_t> transfer(std::string from, std::string to, std::int64_t amount) {
    check_amount(amount);
    if (from == to) throw vatic::VatError(vatic::ErrorKind::failed, "a transfer needs two accounts");
    if (!kv().get<std::int64_t>(key(from))) throw vatic::VatError(vatic::ErrorKind::failed, "no account " + from);
    std::int64_t credited = balance_of(to);
    if (credited > std::numeric_limits<std::int64_t>::max() - amount)
      throw vatic::VatError(vatic::ErrorKind::failed, "the balance would overflow");
    std::int64_t debited = balance_of(from) - amount;
    kv().put(key(from), debited);
    kv().put(key(to), credited + amount);
    transfers_.set(transfers_.get() + 1);
    if (debited < 0) throw vatic::VatError(vatic::ErrorKind::failed, "insufficient funds");
    return {debited, credited + amount};
  }

  std::int64_t balance(std::string account) {
    auto b = kv().get<std::int64_t>(key(account));
    if (!b) throw vatic::VatError(vatic::ErrorKind::failed, "no account " + account);
    return *b;
  }

  // Every account, by name.
  std::vector<Account> accounts() {
    std::vector<Account> out;
    for (auto& [k, b] : kv().scan<std::int64_t>("account/")) out.push_back({k.substr(8), b});
    return out;
  }

  // How many transfers succeeded (a failed one rolled its count back too).
  std::int64_t transfers() { return transfers_.get(); }

  VATIC_METHODS(Ledger, deposit, transfer, balance, accounts, transfers)

 private:
  static void check_amount(std::int64_t amount) {
    if (amount <= 0) throw vatic::VatError(vatic::ErrorKind::failed, "an amount must be positive");
  }
  // Account names come from clients: 1 to 64 bytes, printable ASCII.
  static std::string key(const std::string& account) {
    if (account.empty() || account.size() > 64)
      throw vatic::VatError(vatic::ErrorKind::failed, "an account name is 1 to 64 bytes");
    for (char c : account) {
      if (c < 0x21 || c > 0x7e)
        throw vatic::VatError(vatic::ErrorKind::failed, "an account name is printable ASCII without spaces");
    }
    return "account/" + account;
  }
  std::int64_t balance_of(const std::string& account) { return kv().get<std::int64_t>(key(account)).value_or(0); }

  vatic::persist::Cell<std::int64_t> transfers_{this, "transfers", 0};
};

}  // namespace ledger
