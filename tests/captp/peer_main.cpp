// captp_test_peer: one vat with a CapTP node in its own process, for the
// process tests (tests/captp/process_test.cpp).
//
//   captp_test_peer --listen ADDR [--connect VATID@ADDR] [--idle-ms N] [--keep-refs]
//
// It makes a fresh identity, serves a PeerEcho (tests/captp/peer_objects.h) as
// its bootstrap object, listens on ADDR (host:port or unix:/path; port 0 picks
// one) and prints one line to stdout, "<vat id> <bound address>", then runs its
// vat until SIGTERM or SIGINT and exits 0 after closing its sessions. With
// --connect it dials that vat at once and its PeerEcho's third() and
// third_next() reach the dialed vat's bootstrap object. With --idle-ms it also
// exits once it has had no session for N ms (so that a test process that died
// without reaping it leaves nothing running for long).
//
// On the way out it closes its sessions, drops what its bootstrap object holds
// (unless --keep-refs), destroys the node, releases the vat and checks that no
// object outlived all that: every object must be freed once nothing refers to
// it, whatever references into ended sessions it held.
//
// Exit status: 0 after a signal or the idle limit, 2 for bad arguments, 1 if
// setting up failed, 3 if objects outlived the node and the vat's release (the
// reason goes to stderr).
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "captp/address.h"
#include "captp/identity.h"
#include "captp/node.h"
#include "tests/captp/peer_objects.h"
#include "vat/vatic.h"

namespace vatic::test {
namespace {

struct Args {
  captp::Address listen;
  std::optional<captp::VatId> connect_id;
  std::optional<captp::Address> connect_at;
  std::chrono::milliseconds idle{0};  // zero: no idle limit
  bool keep_refs = false;
};

std::optional<Args> bad_usage(const std::string& why) {
  std::fprintf(stderr,
               "captp_test_peer: %s\n"
               "usage: captp_test_peer --listen ADDR [--connect VATID@ADDR] [--idle-ms N] [--keep-refs]\n",
               why.c_str());
  return std::nullopt;
}

// Nullopt (after printing why) if the command line is not understood.
std::optional<Args> parse_args(int argc, char** argv) {
  Args out;
  bool have_listen = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--keep-refs") {
      out.keep_refs = true;
      continue;
    }
    if (i + 1 >= argc) return bad_usage("missing value after " + std::string(flag));
    std::string_view value = argv[++i];
    std::string why;
    if (flag == "--listen") {
      auto a = captp::Address::parse(value);
      if (!a) return bad_usage("bad --listen address: " + a.error());
      out.listen = *a;
      have_listen = true;
    } else if (flag == "--connect") {
      auto at = value.find('@');
      if (at == std::string_view::npos) return bad_usage("--connect wants VATID@ADDR");
      auto id = captp::VatId::parse(value.substr(0, at));
      if (!id) return bad_usage("bad vat id in --connect: " + id.error());
      out.connect_id = *id;
      auto addr = captp::Address::parse(value.substr(at + 1));
      if (!addr) return bad_usage("bad address in --connect: " + addr.error());
      out.connect_at = *addr;
    } else if (flag == "--idle-ms") {
      try {
        out.idle = std::chrono::milliseconds(std::stoul(std::string(value)));
      } catch (const std::exception&) {
        return bad_usage("bad --idle-ms value");
      }
    } else {
      return bad_usage("unknown flag " + std::string(flag));
    }
  }
  if (!have_listen) return bad_usage("--listen is required");
  return out;
}

// Stops the vat once the node has had no session for `limit`.
class IdleLimit {
 public:
  IdleLimit(Vat& vat, captp::Node& node, std::chrono::milliseconds limit) {
    if (limit.count() == 0) return;
    auto last_busy = std::chrono::steady_clock::now();
    timer_ = vat.every(std::max(limit / 4, std::chrono::milliseconds(1)), [&vat, &node, limit, last_busy]() mutable {
      auto now = std::chrono::steady_clock::now();
      if (!node.sessions().empty()) last_busy = now;
      if (now - last_busy >= limit) {
        std::fprintf(stderr, "captp_test_peer: no session for %lld ms, exiting\n",
                     static_cast<long long>(limit.count()));
        vat.stop();
      }
    });
  }
  ~IdleLimit() { timer_.cancel(); }

 private:
  Timer timer_;
};

int run(const Args& args) {
  Vat vat(VatOptions{.name = "peer"});
  auto node = std::make_unique<captp::Node>(vat, captp::Identity::generate());
  Ref<PeerEcho> third;
  if (args.connect_id) third = node->connect<PeerEcho>(*args.connect_id, *args.connect_at);
  Ref<PeerEcho> root = vat.make<PeerEcho>(0, std::move(third));
  node->set_bootstrap(root);
  // Handle the signals before saying we are ready: a test may stop us at once.
  boost::asio::signal_set signals(vat.io(), SIGTERM, SIGINT);
  signals.async_wait([&vat](const boost::system::error_code& ec, int) {
    if (!ec) vat.stop();
  });
  auto idle = std::make_unique<IdleLimit>(vat, *node, args.idle);
  captp::Address bound = node->listen(args.listen);
  std::printf("%s %s\n", node->id().to_text().c_str(), bound.to_string().c_str());
  std::fflush(stdout);
  vat.run();

  // Say goodbye to the peers (close frames), then let the loop write them.
  signals.cancel();
  idle.reset();
  node->close("peer exiting");
  vat.run_until_idle();
  root = {};
  node.reset();
  vat.run_until_idle();
  vat.release();
  if (std::size_t n = vat.live_objects(); n != 0) {
    std::fprintf(stderr, "captp_test_peer: %zu object(s) still alive after every session ended and the vat released\n",
                 n);
    return 3;
  }
  return 0;
}

}  // namespace
}  // namespace vatic::test

int main(int argc, char** argv) {
  auto args = vatic::test::parse_args(argc, argv);
  if (!args) return 2;
  try {
    return vatic::test::run(*args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "captp_test_peer: %s\n", e.what());
    return 1;
  }
}
