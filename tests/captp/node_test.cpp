#include "captp/node.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "tests/captp/process_util.h"
#include "tests/loopback.h"

// A Node's sessions and its accepting, over real loopback sockets in this
// process:
//
//   client node A1 --tcp--+
//   client node A2 --tcp--+--> server node S   (A1, A2: one identity, two Nodes)
//   raw sockets   --tcp--+
namespace vatic::test {
namespace {

using namespace std::chrono_literals;

// Whether the server has closed `fd` (EOF is readable).
bool closed_by_server(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

// Two Nodes of one identity (two processes sharing a store) each keep their
// session with the server: they differ by instance, not by vat id.
TEST(Node, TwoNodesOfOneIdentityKeepTheirOwnSessions) {
  TestVat server;
  server.node->set_bootstrap(server.vat.make<PeerEcho>(0));
  captp::Address at = server.node->listen("127.0.0.1:0");
  captp::Identity first = captp::Identity::generate();
  captp::Identity second = captp::Identity::from_seed(first.seed());
  // Both Nodes live in the server's vat: one loop drives all three.
  captp::Node a1(server.vat, std::move(first)), a2(server.vat, std::move(second));
  ASSERT_NE(a1.instance(), a2.instance());
  Ref<PeerEcho> r1 = a1.connect<PeerEcho>(server.node->id(), at);
  EXPECT_EQ(server.get(r1.send<&PeerEcho::echo>(1)), 1);
  Ref<PeerEcho> r2 = a2.connect<PeerEcho>(server.node->id(), at);
  EXPECT_EQ(server.get(r2.send<&PeerEcho::echo>(2)), 2);
  // The first session survived the second: it still answers.
  EXPECT_EQ(server.get(r1.send<&PeerEcho::echo>(3)), 3);
  auto sessions = server.node->sessions();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].peer, sessions[1].peer);
  EXPECT_NE(sessions[0].peer_instance, sessions[1].peer_instance);
  a1.close();
  a2.close();
}

// One address may hold only so many connections in the handshake; the rest
// are closed at once, and an honest dial works once those few are gone.
TEST(Node, HandshakesBeyondThePerAddressLimitAreShed) {
  Vat vat{VatOptions{.name = "server", .spin_before_block = Duration::zero()}};
  captp::NodeOptions options;
  options.max_handshaking_per_address = 4;
  auto server = std::make_unique<captp::Node>(vat, captp::Identity::generate(), options);
  server->set_bootstrap(vat.make<PeerEcho>(0));
  captp::Address at = server->listen("127.0.0.1:0");
  auto run_until = [&](const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + 5s;
    while (!pred() && std::chrono::steady_clock::now() < end)
      if (vat.run_until_idle() == 0) std::this_thread::yield();
    return pred();
  };
  std::vector<int> socks;
  for (int i = 0; i < 10; ++i) socks.push_back(dial_loopback(at.port));
  ASSERT_TRUE(run_until([&] { return server->stats().connections_shed == 6; }))
      << "shed " << server->stats().connections_shed;
  EXPECT_EQ(server->stats().handshaking, 4u);
  int closed = 0;
  auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end) {
    closed = 0;
    for (int fd : socks) closed += closed_by_server(fd) ? 1 : 0;
    if (closed >= 6) break;
    std::this_thread::yield();
  }
  EXPECT_EQ(closed, 6);
  for (int fd : socks) ::close(fd);
  ASSERT_TRUE(run_until([&] { return server->stats().handshaking == 0; }));

  captp::Node client(vat, captp::Identity::generate());
  Ref<PeerEcho> r = client.connect<PeerEcho>(server->id(), at);
  Promise<std::int64_t> p = r.send<&PeerEcho::echo>(5);
  ASSERT_TRUE(run_until([&] { return !p.pending(); }));
  EXPECT_EQ(p.value(), 5);
  client.close();
  server->close();
  for (int i = 0; i < 100 && vat.run_until_idle() != 0; ++i) {
  }
}

}  // namespace
}  // namespace vatic::test
