#include "examples/exchange/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "captp/node.h"
#include "examples/exchange/invariants.h"
#include "vat/json.h"  // the one JSON writer: the summary's strings
#include "vat/vat.h"

namespace exchange {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vatic::json_quote;
using vatic::Ref;
using vatic::Task;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string describe_status(int st) {
  if (WIFEXITED(st)) return fmt::format("exit status {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("signal {}", strsignal(WTERMSIG(st)));
  return fmt::format("wait status {}", st);
}

// fork/exec of this binary with `args`; the child's stdout goes to `out_fd`
// (stderr when -1). The child dies with the launcher (PDEATHSIG) and
// inherits none of its descriptors.
pid_t spawn(const std::string& exe, const std::vector<std::string>& args, int out_fd) {
  std::vector<std::string> all{exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: async-signal-safe calls only.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  if (::dup2(out_fd >= 0 ? out_fd : STDERR_FILENO, STDOUT_FILENO) < 0) ::_exit(127);
  ::syscall(SYS_close_range, 3u, ~0u, 0u);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// Reads one line from `fd` within `limit`.
std::optional<std::string> read_line(int fd, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  std::string line;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n <= 0) continue;
    char buf[256];
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return std::nullopt;
    line.append(buf, static_cast<std::size_t>(got));
    if (auto nl = line.find('\n'); nl != std::string::npos) return line.substr(0, nl);
  }
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Proc {
  std::string name;  // "market", "s1", "b1", ...
  std::vector<std::string> args;
  pid_t pid = -1;
  bool running = false;
  bool killed = false;    // SIGKILLed by the chaos: start again once reaped
  bool stopping = false;  // asked to stop at the end: not started again
  std::optional<vatic::TimePoint> restart_at;
  int status = 0;
};

struct Outcome {
  MarketStatus market;
  std::vector<LedgerEntry> ledger;
  std::string error;
  VATIC_FIELDS(Outcome, market, ledger, error)
};

class Launcher {
 public:
  Launcher(vatic::Vat& vat, RunOptions o, std::string exe, fs::path dir)
      : vat_(vat), o_(std::move(o)), exe_(std::move(exe)), dir_(std::move(dir)), rng_(o_.seed) {}
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;
  ~Launcher() {
    // Nothing outlives the launcher, whatever happened.
    for (auto& p : procs_)
      if (p.running) {
        ::kill(p.pid, SIGKILL);
        ::waitpid(p.pid, nullptr, 0);
      }
    if (market_out_ >= 0) ::close(market_out_);
  }

  // Before the loop runs: starts the market and reads its "<vat id> <address>".
  std::string start_market(const std::string& operator_id) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe2: ") + std::strerror(errno);
    Proc m{"market", {"market", "--listen", "unix:" + (dir_ / "market.sock").string(), "--operator", operator_id}};
    m.pid = spawn(exe_, m.args, fds[1]);
    ::close(fds[1]);
    market_out_ = fds[0];
    if (m.pid < 0) return std::string("fork: ") + std::strerror(errno);
    m.running = true;
    procs_.push_back(m);
    auto line = read_line(market_out_, 20s);
    auto space = line ? line->find(' ') : std::string::npos;
    if (space == std::string::npos) return "the market printed no ready line";
    auto id = vatic::captp::VatId::parse(line->substr(0, space));
    auto at = vatic::captp::Address::parse(line->substr(space + 1));
    if (!id || !at) return "bad ready line from the market: " + *line + " (" + id.error() + at.error() + ")";
    market_id_ = *id;
    market_at_ = *at;
    return {};
  }

  void start_traders() {
    std::string market = market_id_->to_text() + "@" + market_at_->to_string();
    for (int i = 0; i < o_.trader_processes; ++i) {
      bool seller = i % 2 == 0;
      Proc p{fmt::format("{}{}", seller ? "s" : "b", i / 2 + 1)};
      p.args = {"trader",
                "--market",
                market,
                "--dir",
                dir_.string(),
                "--name",
                p.name,
                "--role",
                seller ? "seller" : "buyer",
                "--count",
                std::to_string(o_.per_process),
                "--crash-rate",
                fmt::format("{}", o_.crash_rate),
                "--refuse-rate",
                fmt::format("{}", o_.refuse_rate),
                "--seed",
                std::to_string(o_.seed * 1000 + static_cast<std::uint64_t>(i)),
                "--tick-ms",
                std::to_string(o_.tick_ms)};
      start(p);
      procs_.push_back(std::move(p));
    }
  }

  // Inside a turn: reaping (and restarting) every 20 ms, and the chaos.
  void start_timers() {
    reaper_ = vat_.every(20ms, [this] { reap(); });
    if (o_.kill_every > 0)
      killer_ = vat_.every(std::chrono::duration_cast<vatic::Duration>(std::chrono::duration<double>(o_.kill_every)),
                           [this] { kill_one(); });
  }
  void stop_chaos() { killer_.cancel(); }

  // Every process up, none of them just killed and not yet reaped (a kill
  // that fired with the end of trading must be restarted before the drain).
  bool all_running() const {
    return std::all_of(procs_.begin(), procs_.end(), [](const Proc& p) { return p.running && !p.killed; });
  }
  bool any_running(bool market) const {
    return std::any_of(procs_.begin(), procs_.end(),
                       [market](const Proc& p) { return p.running && (p.name == "market") == market; });
  }
  // SIGTERM to the traders (or the market); they are not started again.
  void stop(bool market) {
    for (auto& p : procs_)
      if ((p.name == "market") == market) {
        p.stopping = true;
        p.restart_at.reset();
        if (p.running) ::kill(p.pid, SIGTERM);
      }
  }
  // What did not stop in time is killed, and counted as a problem.
  void kill_stragglers(bool market) {
    for (auto& p : procs_)
      if (p.running && (p.name == "market") == market) {
        problems_.push_back(p.name + " ignored SIGTERM");
        ::kill(p.pid, SIGKILL);
      }
  }
  // After the end: unclean exits.
  void collect_problems() {
    for (const auto& p : procs_)
      if (p.stopping && !p.running && !(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0))
        problems_.push_back(fmt::format("{} stopped with {}", p.name, describe_status(p.status)));
  }

  vatic::Vat& vat() { return vat_; }
  const RunOptions& options() const { return o_; }
  const fs::path& dir() const { return dir_; }
  const vatic::captp::VatId& market_id() const { return *market_id_; }
  const vatic::captp::Address& market_at() const { return *market_at_; }
  std::vector<std::string> trader_process_names() const {
    std::vector<std::string> out;
    for (const auto& p : procs_)
      if (p.name != "market") out.push_back(p.name);
    return out;
  }
  int kills = 0, restarts = 0, unexpected_exits = 0;
  std::vector<std::int64_t> kill_times;
  std::vector<std::string> problems_;

 private:
  void start(Proc& p) {
    p.pid = spawn(exe_, p.args, -1);
    p.running = p.pid > 0;
    p.killed = false;
    if (!p.running) problems_.push_back(fmt::format("cannot start {}: {}", p.name, std::strerror(errno)));
  }

  void reap() {
    auto now = vat_.clock().now();
    for (auto& p : procs_) {
      if (p.running) {
        int st = 0;
        if (::waitpid(p.pid, &st, WNOHANG) != p.pid) continue;
        p.running = false;
        p.status = st;
        if (p.stopping) continue;
        if (p.name == "market") {
          problems_.push_back("the market died: " + describe_status(st));
          continue;
        }
        if (!p.killed) {
          ++unexpected_exits;
          fmt::print(stderr, "exchange: trader process {} ended on its own ({}); starting it again\n", p.name,
                     describe_status(st));
        }
        // The launcher is the supervisor of processes: one_for_one, again.
        p.restart_at = now + 200ms;
      } else if (p.restart_at && now >= *p.restart_at && !p.stopping) {
        p.restart_at.reset();
        start(p);
        ++restarts;
      }
    }
  }

  void kill_one() {
    std::vector<Proc*> live;
    for (auto& p : procs_)
      if (p.name != "market" && p.running && !p.killed) live.push_back(&p);
    if (live.empty()) return;
    Proc* p = live[std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng_)];
    ::kill(p->pid, SIGKILL);
    p->killed = true;
    ++kills;
    kill_times.push_back(wall_ms());
  }

  vatic::Vat& vat_;
  RunOptions o_;
  std::string exe_;
  fs::path dir_;
  std::mt19937_64 rng_;
  std::vector<Proc> procs_;
  int market_out_ = -1;
  std::optional<vatic::captp::VatId> market_id_;
  std::optional<vatic::captp::Address> market_at_;
  vatic::Timer reaper_, killer_;
};

// Polls `done` (a function returning Promise<bool>) every 50 ms for at most
// `limit`; false on timeout. `done` is a plain lambda, not a coroutine: its
// captures stay valid in this frame while a promise it made is awaited.
template <class F>
Task<bool> poll_until(vatic::Vat& vat, vatic::Duration limit, F done) {
  auto end = vat.clock().now() + limit;
  for (;;) {
    if (co_await done()) co_return true;
    if (vat.clock().now() > end) co_return false;
    co_await vat.sleep(50ms);
  }
}

vatic::Duration seconds(double s) {
  return std::chrono::duration_cast<vatic::Duration>(std::chrono::duration<double>(s));
}

// The run, as one coroutine of the launcher's vat (`l` outlives it: main
// waits for it). Trading, then the drain, then a clean stop of every process.
Task<Outcome> drive(Launcher& l, Ref<Operator> op) {
  Outcome out;
  vatic::Vat& vat = l.vat();
  const RunOptions& o = l.options();
  auto status = [op] { return vatic::with_timeout(op.send<&Operator::status>(), 5s); };
  try {
    co_await vat.sleep(seconds(o.seconds));
    l.stop_chaos();
    // Every trader process back (a kill may have just happened) and joined.
    auto expected = static_cast<std::int64_t>(o.trader_processes) * o.per_process;
    bool back = co_await poll_until(vat, 15s, [&] {
      return status().then([&](const MarketStatus& s) { return l.all_running() && s.live_traders == expected; });
    });
    if (!back) throw std::runtime_error("the trader processes did not all come back");
    // Stop matching; the handshakes under way finish (decisions reach every side).
    co_await vatic::with_timeout(op.send<&Operator::quiesce>(), 5s);
    co_await poll_until(vat, seconds(o.drain_seconds),
                        [&] { return status().then([](const MarketStatus& s) { return s.pending == 0; }); });
    for (std::int64_t from = 0;;) {
      auto page = co_await vatic::with_timeout(op.send<&Operator::ledger>(from, kMaxLedgerPage), 5s);
      from += static_cast<std::int64_t>(page.size());
      for (auto& e : page) out.ledger.push_back(std::move(e));
      if (static_cast<std::int64_t>(page.size()) < kMaxLedgerPage) break;
    }
    out.market = co_await status();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  // Traders first (each writes its view), then the market.
  for (bool market : {false, true}) {
    l.stop(market);
    auto stopped = [&] { return vatic::Promise<bool>::resolved(!l.any_running(market)); };
    if (!co_await poll_until(vat, 10s, stopped)) {
      l.kill_stragglers(market);
      co_await poll_until(vat, 5s, stopped);
    }
  }
  l.collect_problems();
  co_return out;
}

// Reads what the trader processes left behind: journals and views.
void read_traders(const Launcher& l, RunFacts& f, std::int64_t& supervisor_restarts) {
  for (const auto& proc : l.trader_process_names()) {
    for (int i = 0; i < l.options().per_process; ++i) {
      std::string name = fmt::format("{}-{}", proc, i);
      std::string why;
      auto v = Vault::replay(read_file(l.dir() / (name + ".journal")), &why);
      if (v)
        f.traders.push_back(std::move(*v));
      else
        f.journal_errors.push_back(name + ": " + why);
    }
    std::istringstream views(read_file(l.dir() / (proc + ".views")));
    std::string word, name, line;
    while (views >> word) {
      if (word == "view" && views >> name && std::getline(views, line)) {
        f.views[name] = line.substr(line.find_first_not_of(' '));
      } else if (word == "restarts") {
        std::int64_t n = 0;
        views >> n;
        supervisor_restarts += n;
      }
    }
  }
}

void print_summary(const Launcher& l, const Outcome& out, const RunFacts& f, const std::vector<Check>& checks,
                   std::int64_t start_ms, std::int64_t supervisor_restarts, bool ok) {
  const RunOptions& o = l.options();
  std::int64_t crashes = 0;
  for (const auto& v : f.traders) crashes += static_cast<std::int64_t>(v.crash_times().size());
  std::vector<std::int64_t> per_second(static_cast<std::size_t>(o.seconds + 0.999), 0);
  for (const auto& e : f.ledger) {
    auto s = (e.closed_ms - start_ms) / 1000;
    if (s >= 0 && s < static_cast<std::int64_t>(per_second.size())) ++per_second[static_cast<std::size_t>(s)];
  }
  std::string inv, violations;
  for (const auto& c : checks) {
    inv += fmt::format("{}{}: {}", inv.empty() ? "" : ", ", json_quote(c.name), c.ok ? "true" : "false");
    for (const auto& d : c.detail)
      violations += fmt::format("{}{}", violations.empty() ? "" : ", ", json_quote(c.name + ": " + d));
  }
  std::string timeline;
  for (auto n : per_second) timeline += fmt::format("{}{}", timeline.empty() ? "" : ", ", n);
  const MarketStatus& m = out.market;
  fmt::print("{{\n  \"ok\": {},\n", ok ? "true" : "false");
  if (!out.error.empty()) fmt::print("  \"error\": {},\n", json_quote(out.error));
  fmt::print("  \"seconds\": {}, \"seed\": {}, \"trader_processes\": {}, \"traders\": {},\n", o.seconds, o.seed,
             o.trader_processes, o.trader_processes * o.per_process);
  fmt::print("  \"crash_rate\": {}, \"kill_every\": {},\n", o.crash_rate, o.kill_every);
  fmt::print("  \"deals\": {}, \"deals_per_s\": {:.1f}, \"proposed\": {}, \"aborted\": {}, \"decision_retries\": {},\n",
             f.ledger.size(), static_cast<double>(f.ledger.size()) / o.seconds, m.proposed, m.aborted,
             m.decision_retries);
  fmt::print("  \"crashes\": {}, \"restarts_seen_by_market\": {}, \"supervisor_restarts_at_exit\": {},\n", crashes,
             m.restarts_seen, supervisor_restarts);
  fmt::print("  \"kills\": {}, \"process_restarts\": {}, \"traders_dropped\": {}, \"unexpected_exits\": {},\n", l.kills,
             l.restarts, m.dropped, l.unexpected_exits);
  if (f.first_chaos_ms)
    fmt::print("  \"first_chaos_after_ms\": {}, \"deals_after_first_chaos\": {},\n", *f.first_chaos_ms - start_ms,
               deals_after(f.ledger, *f.first_chaos_ms));
  fmt::print("  \"ledger_duplicates\": {}, \"protocol_errors\": {}, \"refused_posts\": {},\n", m.ledger_duplicates,
             m.protocol_errors, m.refused_posts);
  fmt::print("  \"deals_per_second\": [{}],\n", timeline);
  fmt::print("  \"invariants\": {{{}}},\n  \"violations\": [{}],\n  \"dir\": {}\n}}\n", inv, violations,
             json_quote(l.dir().string()));
  std::fflush(stdout);
}

}  // namespace

int run_main(const RunOptions& o) {
  if (o.trader_processes < 2 || o.trader_processes > 8 || o.per_process < 1 || o.per_process > 8 || o.seconds <= 0 ||
      o.seconds > 3600 || o.crash_rate < 0 || o.crash_rate >= 1 || o.refuse_rate < 0 || o.refuse_rate >= 1 ||
      o.kill_every < 0 || o.tick_ms < 1 || o.drain_seconds <= 0) {
    fmt::print(stderr, "exchange run: an option is out of range (see --help)\n");
    return 2;
  }
  fs::path dir = o.dir;
  bool temporary = dir.empty();
  if (temporary) {
    std::string tmpl = "/tmp/exchange-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
      fmt::print(stderr, "exchange run: mkdtemp: {}\n", std::strerror(errno));
      return 1;
    }
    dir = tmpl;
  } else {
    // Journals of an earlier run would hold deals this market never made.
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_empty(dir, ec)) {
      fmt::print(stderr, "exchange run: --dir {} must be a new or empty directory\n", dir.string());
      return 2;
    }
  }
  int rc = 1;
  {
    vatic::Vat vat(vatic::VatOptions{.name = "launcher"});
    auto node = std::make_unique<vatic::captp::Node>(vat, vatic::captp::Identity::generate());
    Launcher l(vat, o, fs::read_symlink("/proc/self/exe").string(), dir);
    if (std::string err = l.start_market(node->id().to_text()); !err.empty()) {
      fmt::print(stderr, "exchange run: {}\n", err);
    } else {
      std::int64_t start_ms = wall_ms();
      l.start_traders();
      boost::asio::signal_set signals(vat.io(), SIGINT, SIGTERM);
      signals.async_wait([](const boost::system::error_code& ec, int) {
        if (!ec) std::_Exit(130);  // the children die with us (PDEATHSIG)
      });
      std::optional<vatic::Promise<Outcome>> run;
      vat.post([&] {
        l.start_timers();
        run = drive(l, node->connect<Operator>(l.market_id(), l.market_at())).promise();
      });
      vat.run_until_idle();
      Outcome out = vat.wait(*run);
      signals.cancel();
      node->close("launcher done");
      vat.run_until_idle();

      RunFacts f;
      f.ledger = std::move(out.ledger);
      f.market = out.market;
      f.expected_traders = static_cast<std::size_t>(o.trader_processes * o.per_process);
      f.unexpected_exits = l.unexpected_exits;
      f.process_problems = l.problems_;
      if (!out.error.empty()) f.process_problems.push_back(out.error);
      std::int64_t supervisor_restarts = 0;
      read_traders(l, f, supervisor_restarts);
      for (const auto& v : f.traders)
        for (auto t : v.crash_times()) f.first_chaos_ms = std::min(f.first_chaos_ms.value_or(t), t);
      for (auto t : l.kill_times) f.first_chaos_ms = std::min(f.first_chaos_ms.value_or(t), t);
      auto checks = check_invariants(f);
      bool ok = out.error.empty() && std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.ok; });
      print_summary(l, out, f, checks, start_ms, supervisor_restarts, ok);
      rc = ok ? 0 : 1;
    }
    node.reset();
    vat.run_until_idle();
    vat.release();
  }
  if (temporary && !o.keep) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return rc;
}

}  // namespace exchange
