#include "examples/exchange/vault.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace exchange {

namespace {

// Splits a journal line into its space-separated tokens.
std::vector<std::string_view> tokens(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    std::size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::optional<std::int64_t> number(std::string_view s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string deal_line(const Deal& d) {
  return fmt::format("reserve {} {} {} {} {}", d.id, d.buyer, d.seller, d.price, d.qty);
}

}  // namespace

bool valid_token(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view to_string(Role r) noexcept { return r == Role::buyer ? "buyer" : "seller"; }

std::optional<Role> parse_role(std::string_view s) noexcept {
  if (s == "buyer") return Role::buyer;
  if (s == "seller") return Role::seller;
  return std::nullopt;
}

// --- Journal

Journal Journal::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open journal {}: {}", path, std::strerror(errno)));
  return Journal(fd);
}

Journal& Journal::operator=(Journal&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::append(std::string_view line) {
  std::string buf(line);
  buf.push_back('\n');
  // One write: with O_APPEND the line lands whole at the end, or (a kill in
  // the middle of a huge write, not our case) torn and ignored by replay.
  ssize_t n;
  do n = ::write(fd_, buf.data(), buf.size());
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(buf.size()))
    throw std::runtime_error(fmt::format("journal write failed: {}", n < 0 ? std::strerror(errno) : "short write"));
}

// --- Vault

Vault::Vault(std::string name, Role role, std::int64_t cash, std::int64_t shares)
    : name_(std::move(name)), role_(role), initial_cash_(cash), initial_shares_(shares), cash_(cash), shares_(shares) {}

void Vault::attach(Journal j, bool fresh) {
  journal_ = std::move(j);
  if (fresh) write(fmt::format("open {} {} {} {}", name_, to_string(role_), initial_cash_, initial_shares_));
}

void Vault::write(const std::string& line) {
  if (journal_.is_open()) journal_.append(line);
}

std::int64_t Vault::held_cash() const noexcept {
  std::int64_t n = 0;
  if (role_ == Role::buyer)
    for (const auto& [id, d] : reserved_) n += d.price * d.qty;
  return n;
}

std::int64_t Vault::held_shares() const noexcept {
  std::int64_t n = 0;
  if (role_ == Role::seller)
    for (const auto& [id, d] : reserved_) n += d.qty;
  return n;
}

bool Vault::covers(const Deal& d) const noexcept {
  if (role_ == Role::seller) return d.seller == name_ && shares_ - held_shares() >= d.qty;
  return d.buyer == name_ && cash_ - held_cash() >= d.price * d.qty;
}

bool Vault::propose(const Deal& d) {
  // The market is a peer like any other: check everything it sends.
  if (!valid_token(d.id) || !valid_token(d.buyer) || !valid_token(d.seller)) return false;
  if (d.price < 1 || d.price > kMaxPrice || d.qty < 1 || d.qty > kMaxQty) return false;
  if (committed_.count(d.id) || aborted_.count(d.id)) return committed_.count(d.id) && committed_.at(d.id) == d;
  if (auto it = reserved_.find(d.id); it != reserved_.end()) return it->second == d;  // asked again: same answer
  if (!covers(d)) return false;
  // Journal first: a yes that a kill could forget would let the market commit
  // a deal this trader no longer knows about.
  write(deal_line(d));
  reserved_.emplace(d.id, d);
  return true;
}

void Vault::apply_commit(const Deal& d) {
  if (role_ == Role::seller) {
    shares_ -= d.qty;
    cash_ += d.price * d.qty;
  } else {
    cash_ -= d.price * d.qty;
    shares_ += d.qty;
  }
  committed_.emplace(d.id, d);
  reserved_.erase(d.id);
}

std::string Vault::commit(const std::string& id) {
  if (committed_.count(id)) return kAlreadyCommitted;
  if (aborted_.count(id)) return kWasAborted;
  auto it = reserved_.find(id);
  if (it == reserved_.end()) return kUnknownDeal;
  write("commit " + id);
  apply_commit(it->second);
  return kCommitted;
}

std::string Vault::abort(const std::string& id) {
  if (aborted_.count(id)) return kAlreadyAborted;
  if (committed_.count(id)) return kWasCommitted;
  if (!valid_token(id)) return kUnknownDeal;
  bool had = reserved_.count(id) != 0;
  // Remembered even when never reserved: a proposal that arrives after its
  // abort (it cannot over one reference, E-order, but a peer may misbehave)
  // is refused.
  write("abort " + id);
  reserved_.erase(id);
  aborted_.insert(id);
  return had ? kAborted : kUnknownDeal;
}

Quote Vault::quote(std::int64_t price, std::int64_t qty) const {
  if (role_ == Role::seller) qty = std::min(qty, shares_ - held_shares());
  if (role_ == Role::buyer && price > 0) qty = std::min(qty, (cash_ - held_cash()) / price);
  return Quote{price, std::max<std::int64_t>(qty, 0)};
}

void Vault::note_crash(std::int64_t now_ms, std::string_view where) {
  write(fmt::format("crash {} {}", now_ms, where));
  crashes_.push_back(now_ms);
}

std::string Vault::digest() const {
  // FNV-1a over the committed deals in id order.
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  for (const auto& [id, d] : committed_) mix(fmt::format("{} {} {} {} {};", d.id, d.buyer, d.seller, d.price, d.qty));
  return fmt::format("cash={} shares={} held_cash={} held_shares={} committed={} reserved={} aborted={} hash={:016x}",
                     cash_, shares_, held_cash(), held_shares(), committed_.size(), reserved_.size(), aborted_.size(),
                     h);
}

bool Vault::apply_line(std::string_view line, std::string* why) {
  auto t = tokens(line);
  auto fail = [&](const char* what) {
    *why = fmt::format("{}: {:?}", what, line);
    return false;
  };
  if (t.empty()) return fail("empty line");
  if (t[0] == "reserve" && t.size() == 6) {
    auto price = number(t[4]), qty = number(t[5]);
    if (!price || !qty) return fail("bad number");
    Deal d{std::string(t[1]), std::string(t[2]), std::string(t[3]), *price, *qty};
    if (committed_.count(d.id) || aborted_.count(d.id) || reserved_.count(d.id)) return fail("deal reserved twice");
    reserved_.emplace(d.id, d);
    return true;
  }
  if (t[0] == "commit" && t.size() == 2) {
    auto it = reserved_.find(std::string(t[1]));
    if (it == reserved_.end()) return fail("commit without reservation");
    apply_commit(it->second);
    return true;
  }
  if (t[0] == "abort" && t.size() == 2) {
    std::string id(t[1]);
    if (committed_.count(id)) return fail("abort after commit");
    reserved_.erase(id);
    aborted_.insert(id);
    return true;
  }
  if (t[0] == "crash" && t.size() >= 2) {
    auto ms = number(t[1]);
    if (!ms) return fail("bad crash time");
    crashes_.push_back(*ms);
    return true;
  }
  return fail("unknown record");
}

std::optional<Vault> Vault::replay(std::string_view text, std::string* why) {
  std::string scratch;
  if (!why) why = &scratch;
  // A line without its newline was torn by a kill: it was never acknowledged.
  if (auto last = text.rfind('\n'); last != std::string_view::npos)
    text = text.substr(0, last + 1);
  else
    text = {};
  std::size_t nl = text.find('\n');
  if (nl == std::string_view::npos) {
    *why = "empty journal";
    return std::nullopt;
  }
  auto head = tokens(text.substr(0, nl));
  std::optional<Role> role = head.size() == 5 ? parse_role(head[2]) : std::nullopt;
  auto cash = head.size() == 5 ? number(head[3]) : std::nullopt;
  auto shares = head.size() == 5 ? number(head[4]) : std::nullopt;
  if (head.empty() || head[0] != "open" || !role || !cash || !shares) {
    *why = "journal does not start with an open record";
    return std::nullopt;
  }
  Vault v(std::string(head[1]), *role, *cash, *shares);
  std::size_t at = nl + 1;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (!v.apply_line(text.substr(at, end - at), why)) return std::nullopt;
    at = end + 1;
  }
  return v;
}

}  // namespace exchange
