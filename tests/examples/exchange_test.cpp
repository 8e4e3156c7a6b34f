// The exchange example (examples/exchange/) run for real: the launcher starts
// a market and two trader processes, trades, optionally crashes traders and
// SIGKILLs trader processes, then checks its invariants; these tests read its
// JSON summary. A third test plays a hostile peer against the market process.
//
//   test ──runs──▶ exchange run ──fork/exec──▶ exchange market   (unix socket)
//                       │ Operator facet            ▲   ▲
//                       └───────────────────────────┘   │ Exchange facet, CapTP
//                             exchange trader s1 (3 sellers) ─┤
//                             exchange trader b1 (3 buyers)  ─┘
//
//   test (vat: attacker node, operator node) ──CapTP──▶ exchange market
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/serialize.hpp>

#include "captp/node.h"
#include "examples/exchange/protocol.h"
#include "tests/examples/child_process.h"
#include "tests/temp_dir.h"
#include "tests/tools/json_read.h"
#include "vat/vatic.h"

#ifndef EXCHANGE_BIN
#error "EXCHANGE_BIN (the path of the exchange example binary) must be defined by the build"
#endif

namespace {

using namespace std::chrono_literals;

// A child process of the exchange binary.
class Child : public vatic::test::ChildProcess {
 public:
  explicit Child(std::vector<std::string> args) : ChildProcess(with_binary(std::move(args))) {}

 private:
  static std::vector<std::string> with_binary(std::vector<std::string> args) {
    args.insert(args.begin(), EXCHANGE_BIN);
    return args;
  }
};

// Runs `exchange run ARGS...`; returns (wait status, parsed summary).
std::pair<int, std::optional<boost::json::value>> run_exchange(std::vector<std::string> args,
                                                               std::chrono::seconds limit) {
  args.insert(args.begin(), "run");
  Child c(args);
  std::string out = c.read_all(limit);
  int st = c.wait(10s);
  auto json = vatic::test::parse_json(out);
  EXPECT_TRUE(json.has_value()) << "not one JSON object:\n" << out;
  return {st, json};
}

double number(const boost::json::value& j, const char* key) {
  auto v = vatic::test::number(j, key);
  EXPECT_TRUE(v) << "no number " << key;
  return v.value_or(-1);
}

void expect_every_invariant(const boost::json::value& j) {
  const boost::json::value* inv = vatic::test::member(j, "invariants");
  ASSERT_TRUE(inv && inv->is_object());
  for (const char* name : {"no_deal_recorded_twice", "ledger_matches_both_parties", "no_deal_closed_on_one_side_only",
                           "no_deal_left_in_doubt", "cash_and_shares_conserved", "live_views_match_journals",
                           "no_protocol_errors", "market_kept_trading_through_chaos", "processes_healthy"}) {
    ASSERT_NE(vatic::test::member(*inv, name), nullptr) << name;
    EXPECT_TRUE(vatic::test::is_true(*inv, name)) << name << " does not hold";
  }
  const boost::json::value* violations = vatic::test::member(j, "violations");
  ASSERT_TRUE(violations && violations->is_array());
  for (const auto& v : violations->get_array()) ADD_FAILURE() << boost::json::serialize(v);
}

TEST(Exchange, QuietRunClosesDealsAndKeepsEveryInvariant) {
  auto [st, json] = run_exchange({"--seconds", "2", "--seed", "1"}, 60s);
  ASSERT_TRUE(json);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << vatic::test::describe_wait_status(st);
  expect_every_invariant(*json);
  EXPECT_GT(number(*json, "deals"), 0);
  EXPECT_EQ(number(*json, "crashes"), 0);
  EXPECT_EQ(number(*json, "kills"), 0);
  EXPECT_EQ(number(*json, "unexpected_exits"), 0);
  EXPECT_EQ(number(*json, "protocol_errors"), 0);
}

TEST(Exchange, ChaosRunKeepsTradingThroughCrashesAndKillsAndKeepsEveryInvariant) {
  auto [st, json] = run_exchange({"--seconds", "10", "--crash-rate", "0.02", "--kill-every", "3", "--seed", "7"}, 90s);
  ASSERT_TRUE(json);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << vatic::test::describe_wait_status(st);
  expect_every_invariant(*json);
  EXPECT_GT(number(*json, "crashes"), 0);
  EXPECT_GE(number(*json, "kills"), 2);
  EXPECT_EQ(number(*json, "process_restarts"), number(*json, "kills"));
  // Supervised restarts keep the market's references working; kills drop the
  // traders until their processes join again.
  EXPECT_GT(number(*json, "restarts_seen_by_market"), 0);
  EXPECT_GT(number(*json, "traders_dropped"), 0);
  EXPECT_GT(number(*json, "deals_after_first_chaos"), 0);
  EXPECT_GT(number(*json, "decision_retries"), 0);  // commits and aborts repeated after crashes
}

// --- A hostile peer against the market process.

class Liar : public exchange::Trader {  // says yes, then answers nonsense
 public:
  bool propose(exchange::Deal) override { return true; }
  std::string commit(std::string) override { return "sure, whatever"; }
  std::string abort(std::string) override { return "nope"; }
  VATIC_METHODS(Liar, propose, commit, abort)
};

class Mute : public vatic::Object {  // never answers
 public:
  vatic::Promise<bool> propose(vatic::Value) { return hold<bool>(); }
  vatic::Promise<std::string> commit(vatic::Value) { return hold<std::string>(); }
  vatic::Promise<std::string> abort(vatic::Value) { return hold<std::string>(); }
  VATIC_METHODS(Mute, propose, commit, abort)

 private:
  template <class T>
  vatic::Promise<T> hold() {
    auto [p, r] = vatic::make_promise<T>();
    held_.push_back(std::make_shared<vatic::Resolver<T>>(std::move(r)));
    return p;
  }
  std::vector<std::shared_ptr<void>> held_;
};

struct Peer {
  vatic::Vat vat{vatic::VatOptions{.name = "attacker", .spin_before_block = vatic::Duration::zero()}};
  std::unique_ptr<vatic::captp::Node> node =
      std::make_unique<vatic::captp::Node>(vat, vatic::captp::Identity::generate());
  std::unique_ptr<vatic::captp::Node> op_node =
      std::make_unique<vatic::captp::Node>(vat, vatic::captp::Identity::generate());
  std::unique_ptr<vatic::captp::Node> other =
      std::make_unique<vatic::captp::Node>(vat, vatic::captp::Identity::generate());
  ~Peer() {
    node.reset();
    op_node.reset();
    other.reset();
    for (int i = 0; i < 100 && vat.run_until_idle() != 0; ++i) {
    }
  }
  template <class T>
  vatic::Promise<T> settle(vatic::Promise<T> p, std::chrono::seconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (p.pending() && std::chrono::steady_clock::now() < end)
      if (vat.run_until_idle() == 0) std::this_thread::sleep_for(1ms);
    EXPECT_FALSE(p.pending()) << "no answer in time";
    return p;
  }
  template <class T>
  vatic::Error refused(vatic::Promise<T> p) {
    p = settle(std::move(p));
    EXPECT_TRUE(p.is_broken());
    return p.is_broken() ? p.error() : vatic::Error{};
  }
};

TEST(Exchange, AHostilePeerGetsBrokenPromisesAndTheMarketKeepsServing) {
  vatic::test::TempDir dir("exchange-attack");
  Peer peer;
  Child market({"market", "--listen", dir.unix_address("m.sock"), "--operator", peer.op_node->id().to_text()});
  std::string line = market.read(20s, [](const std::string& s) { return s.find('\n') != std::string::npos; });
  auto space = line.find(' ');
  ASSERT_NE(space, std::string::npos) << line;
  auto id = vatic::captp::VatId::parse(line.substr(0, space));
  auto at = vatic::captp::Address::parse(line.substr(space + 1, line.find('\n') - space - 1));
  ASSERT_TRUE(id && at) << line;
  using exchange::Exchange;
  using exchange::Operator;
  using exchange::Seat;
  using vatic::ErrorKind;

  auto ex = peer.node->connect<Exchange>(*id, *at);
  auto op = peer.op_node->connect<Operator>(*id, *at);
  auto liar = peer.vat.make<Liar>();

  // Malformed joins: bad names, roles, references, argument types and counts.
  EXPECT_EQ(peer.refused(ex.send<&Exchange::join>("", "seller", vatic::Ref<exchange::Trader>(liar))).kind,
            ErrorKind::failed);
  EXPECT_EQ(peer.refused(ex.send<&Exchange::join>("a b\n", "seller", vatic::Ref<exchange::Trader>(liar))).kind,
            ErrorKind::failed);
  EXPECT_EQ(peer.refused(ex.send<&Exchange::join>("x", "thief", vatic::Ref<exchange::Trader>(liar))).kind,
            ErrorKind::failed);
  EXPECT_EQ(peer.refused(ex.send<&Exchange::join>("x", "seller", vatic::Ref<exchange::Trader>())).kind,
            ErrorKind::failed);
  EXPECT_EQ(peer.refused(ex.send("join", 1, 2, 3)).kind, ErrorKind::failed);
  EXPECT_EQ(peer.refused(ex.send("join")).kind, ErrorKind::failed);
  EXPECT_EQ(peer.refused(ex.send("join", std::string(100'000, 'x'), "seller", liar)).kind, ErrorKind::failed);
  // The Operator's methods are not the Exchange's: a trader cannot drain the market.
  EXPECT_EQ(peer.refused(ex.send("quiesce")).kind, ErrorKind::unimplemented);
  EXPECT_EQ(peer.refused(ex.send("ledger", 0, 10)).kind, ErrorKind::unimplemented);

  // Two liars that trade with each other: the market counts their nonsense.
  auto sell = ex.send<&Exchange::join>("liar-s", "seller", vatic::Ref<exchange::Trader>(liar));
  auto buy = ex.send<&Exchange::join>("liar-b", "buyer", vatic::Ref<exchange::Trader>(liar));
  EXPECT_EQ(peer.refused(sell.send<&Seat::post>(0, 1)).kind, ErrorKind::failed);
  EXPECT_EQ(peer.refused(sell.send<&Seat::post>(100, 1'000'000'000)).kind, ErrorKind::failed);
  peer.settle(sell.send<&Seat::post>(100, 1));
  peer.settle(buy.send<&Seat::post>(100, 1));
  // Another vat cannot take over a name.
  auto thief = peer.other->connect<Exchange>(*id, *at);
  EXPECT_NE(peer.refused(thief.send<&Exchange::join>("liar-s", "seller", vatic::Ref<exchange::Trader>(liar)))
                .reason.find("belongs to another vat"),
            std::string::npos);
  // Two mutes that never answer: every call to them has a deadline.
  auto mute = peer.vat.make<Mute>();
  for (const char* role : {"seller", "buyer"}) {
    auto seat = peer.settle(ex.send("join", std::string("mute-") + role, role, mute));
    ASSERT_TRUE(seat.ready()) << vatic::to_string(seat.error());
    peer.settle(vatic::from_value<vatic::Ref<Seat>>(seat.value()).send<&Seat::post>(100, 1));
  }
  // Too many names for one vat.
  for (int i = 0; i < exchange::kMaxTradersPerPeer; ++i)
    (void)ex.send<&Exchange::join>("n" + std::to_string(i), "buyer", vatic::Ref<exchange::Trader>(liar));
  EXPECT_EQ(peer.refused(ex.send<&Exchange::join>("one-too-many", "buyer", vatic::Ref<exchange::Trader>(liar))).kind,
            ErrorKind::overloaded);

  // The market still serves; it saw the liars' answers as protocol errors and
  // aborted the mutes' deal when its proposals ran out of time (1 s).
  auto until = std::chrono::steady_clock::now() + 10s;
  exchange::MarketStatus s;
  do {
    s = peer.settle(op.send<&Operator::status>()).value();
    if (s.protocol_errors == 0 || s.aborted == 0) std::this_thread::sleep_for(20ms);
  } while ((s.protocol_errors == 0 || s.aborted == 0) && std::chrono::steady_clock::now() < until);
  EXPECT_GE(s.protocol_errors, 1);
  EXPECT_GE(s.aborted, 1);
  EXPECT_EQ(s.deals, 0);  // nothing the liars said got into the ledger
  EXPECT_TRUE(market.running());
  ::kill(market.pid(), SIGTERM);
  int st = market.wait(10s);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << vatic::test::describe_wait_status(st);
}

}  // namespace
