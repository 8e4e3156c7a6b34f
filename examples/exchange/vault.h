// Vault: one trader's holdings and its view of every deal (reserved, committed,
// aborted), kept outside the supervised TraderObject so that a crash of the
// object loses nothing: the supervisor's start function hands the same Vault
// to each new incarnation. Every change is appended to a Journal (one line,
// written before the change is acknowledged), so that a trader process killed
// with SIGKILL is rebuilt exactly by replaying its journal.
//
// The launcher replays the same journals to check the invariants, so the
// replay here is the one definition of a trader's view.
//
// Threads: a Vault belongs to the trader process's vat thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "examples/exchange/protocol.h"

namespace exchange {

enum class Role : unsigned char { buyer, seller };
std::string_view to_string(Role r) noexcept;
std::optional<Role> parse_role(std::string_view s) noexcept;

// An append-only file: one line per write(2) with O_APPEND, so a killed
// process leaves whole lines behind (a torn last line is ignored on replay).
// No fsync: the chaos kills processes, not the machine.
class Journal {
 public:
  Journal() = default;
  // Opens (creating, mode 0600) `path` for appending; throws std::runtime_error.
  static Journal open(const std::string& path);
  Journal(Journal&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Journal& operator=(Journal&& o) noexcept;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  bool is_open() const noexcept { return fd_ >= 0; }
  // Throws std::runtime_error if the line cannot be written whole.
  void append(std::string_view line);

 private:
  explicit Journal(int fd) : fd_(fd) {}
  int fd_ = -1;
};

class Vault {
 public:
  Vault(std::string name, Role role, std::int64_t cash, std::int64_t shares);
  // Rebuilds a vault from a journal's text; nullopt (and `why`) if it is corrupt.
  static std::optional<Vault> replay(std::string_view text, std::string* why);

  // From now on every change is journaled; a new journal gets the "open" line.
  void attach(Journal j, bool fresh);

  // --- The trader's side of the handshake (all idempotent).
  // Reserves shares (seller) or cash (buyer) and answers yes; no if the deal
  // is not ours, malformed, already aborted or not covered.
  bool propose(const Deal& d);
  std::string commit(const std::string& id);
  std::string abort(const std::string& id);
  // What this trader would post now (qty 0: nothing available).
  Quote quote(std::int64_t price, std::int64_t qty) const;
  // An injected crash, journaled so that the launcher can count every one.
  void note_crash(std::int64_t now_ms, std::string_view where);

  // --- The view.
  const std::string& name() const noexcept { return name_; }
  Role role() const noexcept { return role_; }
  std::int64_t cash() const noexcept { return cash_; }
  std::int64_t shares() const noexcept { return shares_; }
  std::int64_t initial_cash() const noexcept { return initial_cash_; }
  std::int64_t initial_shares() const noexcept { return initial_shares_; }
  const std::map<std::string, Deal>& reserved() const noexcept { return reserved_; }
  const std::map<std::string, Deal>& committed() const noexcept { return committed_; }
  std::size_t aborted() const noexcept { return aborted_.size(); }
  const std::vector<std::int64_t>& crash_times() const noexcept { return crashes_; }
  // One line that two equal views share: balances, holds, counts and a hash
  // of the committed deals (what the launcher compares with a live process).
  std::string digest() const;

 private:
  std::int64_t held_cash() const noexcept;
  std::int64_t held_shares() const noexcept;
  bool covers(const Deal& d) const noexcept;
  void write(const std::string& line);
  void apply_commit(const Deal& d);
  bool apply_line(std::string_view line, std::string* why);

  std::string name_;
  Role role_;
  std::int64_t initial_cash_, initial_shares_;
  std::int64_t cash_, shares_;  // owned, reservations included
  std::map<std::string, Deal> reserved_;
  std::map<std::string, Deal> committed_;
  std::set<std::string> aborted_;
  std::vector<std::int64_t> crashes_;
  Journal journal_;
};

}  // namespace exchange
