#include "examples/exchange/trader.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "captp/node.h"
#include "vat/monitor.h"
#include "vat/supervise/supervisor.h"
#include "vat/vat.h"

namespace exchange {

using vatic::Ref;

// --- Chaos and the trader object

void Chaos::maybe_crash(Vault& v, std::string_view where) {
  if (!chance(crash_rate_)) return;
  v.note_crash(wall_ms_(), where);
  vatic::crash(fmt::format("injected crash in {} ({})", v.name(), where));
}

bool TraderObject::propose(Deal deal) {
  chaos_->maybe_crash(*vault_, "propose-before");
  if (chaos_->refuse()) return false;
  bool yes = vault_->propose(deal);
  // After the reservation is journaled: the market sees a broken call, aborts,
  // and the abort reaches the next incarnation, which releases the reservation.
  if (yes) chaos_->maybe_crash(*vault_, "propose-after");
  return yes;
}

std::string TraderObject::commit(std::string deal_id) {
  chaos_->maybe_crash(*vault_, "commit-before");
  std::string answer = vault_->commit(deal_id);
  // After the commit is journaled: the market repeats the commit and the next
  // incarnation answers already-committed.
  chaos_->maybe_crash(*vault_, "commit-after");
  return answer;
}

std::string TraderObject::abort(std::string deal_id) {
  chaos_->maybe_crash(*vault_, "abort-before");
  std::string answer = vault_->abort(deal_id);
  chaos_->maybe_crash(*vault_, "abort-after");
  return answer;
}

Quote TraderObject::quote() {
  chaos_->maybe_crash(*vault_, "quote");
  // Asks and bids around 100.00: about half of the pairs cross.
  return vault_->quote(chaos_->uniform(9'500, 10'500), chaos_->uniform(1, 5));
}

// --- The process

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The process's key pair, kept in DIR/NAME.key (mode 0600) so that a
// restarted process is the same vat: the market lets a trader name rejoin
// only from the vat that joined it first.
vatic::captp::Identity load_or_create_identity(const std::filesystem::path& path) {
  using vatic::Secret;
  using vatic::captp::Identity;
  std::string bytes = read_file(path);
  if (bytes.size() == 32) {
    std::array<std::uint8_t, 32> seed{};
    std::copy(bytes.begin(), bytes.end(), seed.begin());
    auto id = Identity::from_seed(Secret<32>::from(seed));
    seed.fill(0);
    return id;
  }
  Identity id = Identity::generate();
  // Written whole under a temporary name, then renamed: a kill never leaves half a key.
  std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, id.seed().data(), 32) != 32 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot write key file " + path.string());
  return id;
}

// Rebuilds a trader's vault from its journal, or opens a new one.
std::unique_ptr<Vault> open_vault(const std::filesystem::path& path, const std::string& name, Role role) {
  std::string text = read_file(path);
  bool fresh = text.find('\n') == std::string::npos;  // none, or torn before its first line ended
  std::unique_ptr<Vault> v;
  if (fresh) {
    std::filesystem::remove(path);
    v = std::make_unique<Vault>(name, role, role == Role::buyer ? 1'000'000'000 : 0,
                                role == Role::seller ? 1'000'000 : 0);
  } else {
    std::string why;
    auto replayed = Vault::replay(text, &why);
    if (!replayed) throw std::runtime_error(fmt::format("journal {} is corrupt: {}", path.string(), why));
    if (replayed->name() != name || replayed->role() != role)
      throw std::runtime_error(fmt::format("journal {} belongs to another trader", path.string()));
    v = std::make_unique<Vault>(std::move(*replayed));
  }
  v->attach(Journal::open(path.string()), fresh);
  return v;
}

// One supervised trader and the seat it posts through.
struct Desk {
  Ref<TraderObject> trader;
  vatic::Promise<Ref<Seat>> seat;
};

// Written at a clean exit: what each live trader believes, for the launcher
// to compare with its journal.
void write_views(const std::filesystem::path& dir, const std::string& name,
                 const std::vector<std::unique_ptr<Vault>>& vaults, std::int64_t restarts) {
  std::string text;
  for (const auto& v : vaults) text += fmt::format("view {} {}\n", v->name(), v->digest());
  text += fmt::format("restarts {}\n", restarts);
  auto path = dir / (name + ".views");
  std::ofstream(path.string() + ".tmp", std::ios::trunc) << text;
  std::filesystem::rename(path.string() + ".tmp", path);
}

}  // namespace

int trader_main(const TraderArgs& a) {
  using namespace vatic;
  auto at = a.market.find('@');
  auto market_id = captp::VatId::parse(a.market.substr(0, at));
  auto market_at = captp::Address::parse(at == std::string::npos ? "" : a.market.substr(at + 1));
  std::string why = !market_id ? market_id.error() : market_at.error();
  auto role = parse_role(a.role);
  if (!market_id || !market_at || !role || !valid_token(a.name, 16) || a.count < 1 || a.count > 8) {
    fmt::print(stderr, "exchange trader: bad arguments ({})\n", why.empty() ? "name, role or count" : why);
    return 2;
  }
  std::filesystem::path dir(a.dir);
  std::vector<std::unique_ptr<Vault>> vaults;
  std::unique_ptr<captp::Node> node;
  Vat vat(VatOptions{.name = a.name});
  Chaos chaos(a.seed, a.crash_rate, a.refuse_rate, &wall_ms);
  try {
    for (int i = 0; i < a.count; ++i) {
      std::string name = fmt::format("{}-{}", a.name, i);
      vaults.push_back(open_vault(dir / (name + ".journal"), name, *role));
    }
    node = std::make_unique<captp::Node>(vat, load_or_create_identity(dir / (a.name + ".key")));
  } catch (const std::exception& e) {
    fmt::print(stderr, "exchange trader {}: {}\n", a.name, e.what());
    return 1;
  }

  int status = 0;
  bool running = true;  // failures reported while shutting down are expected
  auto fail = [&vat, &status, &running, name = a.name](int code, const std::string& what) {
    if (!running) return;
    fmt::print(stderr, "exchange trader {}: {}\n", name, what);
    status = code;
    vat.stop();
  };
  Ref<Supervisor> sup;
  std::vector<Desk> desks;
  Timer ticker;
  // Set up inside a turn: promises, monitors and sends belong to a running vat.
  vat.post([&] {
    auto exchange = node->connect<Exchange>(*market_id, *market_at);
    monitor(exchange).then([fail](const Error& e) { fail(4, "market gone: " + to_string(e)); });
    // One restart strategy per trader, a burst of ten crashes a second
    // tolerated; past that, restarts pause for 200 ms instead of escalating
    // (suture's backoff): a trader process never gives up on its own.
    sup = vat.make<Supervisor>(SupervisorOptions{.name = a.name,
                                                 .strategy = Strategy::one_for_one,
                                                 .intensity = 10,
                                                 .period = std::chrono::seconds(1),
                                                 .backoff = std::chrono::milliseconds(200)});
    for (auto& v : vaults) {
      Vault* vault = v.get();
      // CrashOn::unexpected: a malformed call from the market is answered
      // with an error, not a crash; crash() (the injected chaos) always crashes.
      auto trader = start_child<TraderObject>(
          sup, ChildSpec{.id = vault->name(),
                         .start = [&vat, vault, &chaos] { return vat.make<TraderObject>(vault, &chaos); },
                         .crash_on = CrashOn::unexpected});
      auto seat = exchange.send<&Exchange::join>(vault->name(), a.role, Ref<Trader>(trader));
      seat.then([](const Ref<Seat>&) {}, [fail](const Error& e) { fail(1, "join refused: " + to_string(e)); });
      desks.push_back(Desk{trader, seat});
    }
    ticker = vat.every(std::chrono::milliseconds(a.tick_ms), [&desks] {
      for (const Desk& d : desks) {
        // The slot reference survives the trader's restarts: the ticker never
        // needs a new one. A crashed quote is just a missed tick.
        d.trader.send<&TraderObject::quote>().then([seat = d.seat](const Quote& q) {
          if (q.qty > 0) (void)seat.send<&Seat::post>(q.price, q.qty);
        });
      }
    });
  });
  boost::asio::signal_set signals(vat.io(), SIGTERM, SIGINT);
  signals.async_wait([&vat](const boost::system::error_code& ec, int) {
    if (!ec) vat.stop();
  });
  vat.run();
  running = false;

  signals.cancel();
  ticker.cancel();
  std::int64_t restarts = sup ? sup.call<&Supervisor::restarts>() : 0;
  if (status == 0) {
    try {
      write_views(dir, a.name, vaults, restarts);
    } catch (const std::exception& e) {
      fmt::print(stderr, "exchange trader {}: cannot write views: {}\n", a.name, e.what());
      status = 1;
    }
  }
  node->close("trader exiting");
  vat.run_until_idle();
  desks.clear();
  sup = {};
  node.reset();
  vat.run_until_idle();
  vat.release();
  return status;
}

}  // namespace exchange
