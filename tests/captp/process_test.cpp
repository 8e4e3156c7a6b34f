// CapTP between real processes over loopback TCP and unix sockets. Each test
// runs its own vat and node ("T", this process) and starts captp_test_peer
// children (tests/captp/peer_main.cpp), each serving a PeerEcho:
//
//   T --tcp or unix--> B                 (most tests)
//   T --tcp----------> B --unix--> C     (ThirdVat: B dials C at start-up;
//                                         T reaches C's objects only via B)
//
// The test thread drives its vat until the awaited promise settles or a
// deadline passes; children are always stopped and reaped (PeerProcess), and
// must exit cleanly on SIGTERM.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "captp/memory_pipe.h"
#include "tests/captp/peer_objects.h"
#include "tests/captp/process_util.h"

namespace vatic::test {
namespace {

using std::chrono::steady_clock;

inline void PrintTo(const Error& e, std::ostream* os) { *os << to_string(e); }

// Peers exit on their own if a crashed test leaves them without a session.
std::vector<std::string> listen_on(const std::string& at) { return {"--listen", at, "--idle-ms", "20000"}; }

void expect_echo(TestVat& t, const PeerProcess& peer) {
  Ref<PeerEcho> b = t.connect(peer);
  EXPECT_EQ(t.get(b.send<&PeerEcho::echo>(41)), 41);
  EXPECT_EQ(t.get(b.send("echo", 5)), Value(5));
  auto sessions = t.node->sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].peer, peer.id());
  EXPECT_TRUE(sessions[0].initiator);
}

TEST(Process, EchoOverTcp) {
  PeerProcess peer(listen_on("127.0.0.1:0"));
  EXPECT_EQ(peer.address().kind, captp::Address::Kind::tcp);
  EXPECT_NE(peer.address().port, 0);
  TestVat t;
  expect_echo(t, peer);
}

TEST(Process, EchoOverUnixSocket) {
  TempDir dir{"vatic-proc"};
  PeerProcess peer(listen_on(dir.unix_address("b.sock")));
  EXPECT_EQ(peer.address().kind, captp::Address::Kind::unix_socket);
  EXPECT_EQ(peer.address().path, (dir.path() / "b.sock").string());
  TestVat t;
  expect_echo(t, peer);
}

TEST(Process, PipelinedChainMatchesTheAwaitedChain) {
  PeerProcess peer(listen_on("127.0.0.1:0"));
  TestVat t;
  Ref<PeerEcho> b = t.connect(peer);
  // Sent before the handshake has even finished: all twelve calls are
  // pipelined (each targets the answer of the one before).
  Promise<Ref<PeerEcho>> cur = b.send<&PeerEcho::next>();
  for (int i = 1; i < 10; ++i) cur = cur.send<&PeerEcho::next>();
  Promise<int> depth = cur.send<&PeerEcho::depth>();
  Promise<std::int64_t> echo = cur.send<&PeerEcho::echo>(99);
  // The same chain, one round trip per step.
  Ref<PeerEcho> step = b;
  for (int i = 0; i < 10; ++i) step = t.get(step.send<&PeerEcho::next>());
  EXPECT_EQ(t.get(depth), 10);
  EXPECT_EQ(t.get(depth), t.get(step.send<&PeerEcho::depth>()));
  EXPECT_EQ(t.get(echo), 99);
  EXPECT_EQ(t.get(cur.send<&PeerEcho::echo>(7)), t.get(step.send<&PeerEcho::echo>(7)));
}

TEST(Process, CapabilitiesPassBothWays) {
  PeerProcess peer(listen_on("127.0.0.1:0"));
  TestVat t;
  Ref<PeerEcho> b = t.connect(peer);
  // Our object goes to the peer, and the peer calls it back.
  Ref<PeerEcho> mine = t.vat.make<PeerEcho>(100);
  t.get(b.send<&PeerEcho::hold>(mine));
  EXPECT_EQ(t.get(b.send<&PeerEcho::call_held>(7)), 1);
  EXPECT_EQ(t.get(b.send<&PeerEcho::call_held>(8)), 2);
  EXPECT_EQ(mine.call<&PeerEcho::seen>(), (std::vector<std::int64_t>{7, 8}));
  // Coming home, it is our own near object again.
  Ref<PeerEcho> back = t.get(b.send<&PeerEcho::held>());
  EXPECT_TRUE(back.is_near());
  EXPECT_TRUE(back == mine);
  EXPECT_FALSE(t.get(b.send<&PeerEcho::is_mine>(mine)));
  // The peer's objects come home to the peer the same way.
  Ref<PeerEcho> n = t.get(b.send<&PeerEcho::next>());
  EXPECT_EQ(n.kind(), RefKind::far);
  EXPECT_TRUE(t.get(b.send<&PeerEcho::is_mine>(n)));
  EXPECT_TRUE(t.get(b.send<&PeerEcho::is_mine>(b)));
}

// T asks B for an object of C with `M`, sends five calls pipelined on the
// answer and five on the reference it resolves to, and checks C saw them in
// the order sent. With `c_paused`, C is stopped (SIGSTOP) before B dials it,
// so B's path to C is still a promise when T's calls reach B: B answers
// third() at once with that promise (calls queue in B), and third_next() only
// once C answers. Otherwise T first waits until B has reached C.
template <auto M>
void expect_order_through_the_introducer(bool c_paused) {
  constexpr bool kAnswerWaitsForC = std::is_same_v<decltype(M), decltype(&PeerEcho::third_next)>;
  TempDir dir{"vatic-proc"};
  PeerProcess c(listen_on(dir.unix_address("c.sock")));
  if (c_paused) c.pause();
  std::vector<std::string> b_args = listen_on("127.0.0.1:0");
  b_args.insert(b_args.end(), {"--connect", c.connect_arg()});
  PeerProcess b_proc(b_args);
  TestVat t;
  Ref<PeerEcho> b = t.connect(b_proc);
  if (!c_paused) {
    ASSERT_EQ(t.get(b.send<&PeerEcho::third>().send<&PeerEcho::echo>(0)), 0);
  }

  Promise<Ref<PeerEcho>> p = b.send<M>();
  std::vector<Promise<std::int64_t>> arrived;
  for (int i = 0; i < 5; ++i) arrived.push_back(p.send<&PeerEcho::order>(i));
  Ref<PeerEcho> at_c;
  auto send_after_answer = [&] {
    ASSERT_TRUE(t.run_until([&] { return !p.pending(); }));
    ASSERT_FALSE(p.is_broken()) << to_string(p.error());
    at_c = p.value();
    for (int i = 5; i < 10; ++i) arrived.push_back(at_c.send<&PeerEcho::order>(i));
  };
  if (!(c_paused && kAnswerWaitsForC)) send_after_answer();
  if (c_paused) {
    // E-order to B: once this echo is back, B holds every call above.
    ASSERT_EQ(t.get(b.send<&PeerEcho::echo>(1)), 1);
    EXPECT_EQ(p.pending(), kAnswerWaitsForC);
    if (!kAnswerWaitsForC) {
      EXPECT_EQ(at_c.kind(), RefKind::promise);
    }
    for (auto& a : arrived) EXPECT_TRUE(a.pending());
    c.resume();
  }
  if (c_paused && kAnswerWaitsForC) send_after_answer();
  ASSERT_EQ(arrived.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(t.get(arrived[i]), i + 1) << "call " << i;
  EXPECT_EQ(t.get(at_c.send<&PeerEcho::seen>()), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // Resolved through a handoff (spec/captp.md 11): T dialled C at the hint
  // B passed on and imports the object from C itself; B forwards nothing.
  // The switch may still be under way when the calls are answered (through
  // B, H5): wait for it.
  ASSERT_TRUE(t.run_until([&] { return at_c.kind() == RefKind::far; })) << static_cast<int>(at_c.kind());
  auto sessions = t.node->sessions();
  ASSERT_EQ(sessions.size(), 2u);
  for (const auto& s : sessions) {
    if (s.peer == b_proc.id()) {
      EXPECT_GE(s.stats.handoffs, 1u);
      EXPECT_EQ(s.stats.handoff_fallbacks, 0u) << s.stats.last_handoff_fallback;
    } else {
      EXPECT_EQ(s.peer, c.id());
    }
  }
}

TEST(ThirdVat, CallsToItsBootstrapKeepEOrder) { expect_order_through_the_introducer<&PeerEcho::third>(false); }

TEST(ThirdVat, CallsToItsBootstrapKeepEOrderWhileBStillDialsIt) {
  expect_order_through_the_introducer<&PeerEcho::third>(true);
}

TEST(ThirdVat, CallsToAFreshObjectKeepEOrder) { expect_order_through_the_introducer<&PeerEcho::third_next>(false); }

TEST(ThirdVat, CallsToAFreshObjectKeepEOrderWhileBStillDialsIt) {
  expect_order_through_the_introducer<&PeerEcho::third_next>(true);
}

TEST(Process, DroppedReferencesAreReleasedInThePeer) {
  constexpr int kObjects = 50;
  PeerProcess peer(listen_on("127.0.0.1:0"));
  TestVat t;
  Ref<PeerEcho> b = t.connect(peer);
  std::int64_t baseline = t.get(b.send<&PeerEcho::live_objects>());
  {
    std::vector<Promise<Ref<PeerEcho>>> answers;
    for (int i = 0; i < kObjects; ++i) answers.push_back(b.send<&PeerEcho::next>());
    std::vector<Ref<PeerEcho>> refs;
    for (auto& a : answers) refs.push_back(t.get(a));
    EXPECT_EQ(t.get(b.send<&PeerEcho::live_objects>()), baseline + kObjects);
  }
  // The releases travel on their own; ask until the count is back or time is up.
  auto end = steady_clock::now() + std::chrono::seconds(5);
  std::int64_t live = -1;
  while (steady_clock::now() < end) {
    live = t.get(b.send<&PeerEcho::live_objects>());
    if (live == baseline) break;
  }
  EXPECT_EQ(live, baseline);
  ASSERT_EQ(t.node->sessions().size(), 1u);
  EXPECT_EQ(t.node->sessions()[0].stats.imports, 1u);  // the bootstrap object only
}

TEST(Process, KilledPeerBreaksPendingCallsWithDisconnected) {
  PeerProcess peer(listen_on("127.0.0.1:0"));
  TestVat t;
  Ref<PeerEcho> b = t.connect(peer);
  Promise<std::int64_t> hung = b.send<&PeerEcho::hang>();
  Promise<Ref<PeerEcho>> hung_ref = b.send<&PeerEcho::hang_ref>();
  Promise<std::int64_t> piped = hung_ref.send<&PeerEcho::echo>(5);
  ASSERT_EQ(t.get(b.send<&PeerEcho::echo>(2)), 2);  // E-order: the peer has the calls above
  EXPECT_TRUE(hung.pending());
  EXPECT_TRUE(piped.pending());

  auto killed = steady_clock::now();
  int status = peer.kill_now();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << describe_wait_status(status);
  ASSERT_TRUE(t.run_until([&] { return !hung.pending() && !hung_ref.pending() && !piped.pending(); }));
  EXPECT_LT(steady_clock::now() - killed, std::chrono::seconds(2));
  for (const Error& e : {hung.error(), hung_ref.error(), piped.error()})
    EXPECT_EQ(e.kind, ErrorKind::disconnected) << to_string(e);
  EXPECT_EQ(b.kind(), RefKind::broken);
  EXPECT_EQ(t.error_of(b.send<&PeerEcho::echo>(3)).kind, ErrorKind::disconnected);
  EXPECT_TRUE(t.node->sessions().empty());
}

TEST(Process, StoppedPeerBreaksPendingCallsWithItsReason) {
  PeerProcess peer(listen_on("127.0.0.1:0"));
  TestVat t;
  Ref<PeerEcho> b = t.connect(peer);
  Promise<std::int64_t> hung = b.send<&PeerEcho::hang>();
  ASSERT_EQ(t.get(b.send<&PeerEcho::echo>(2)), 2);
  int status = peer.stop();  // SIGTERM: the peer closes its sessions and exits
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
  Error e = t.error_of(hung);
  EXPECT_EQ(e.kind, ErrorKind::disconnected) << to_string(e);
  EXPECT_NE(e.reason.find("peer exiting"), std::string::npos) << e.reason;
  EXPECT_EQ(b.kind(), RefKind::broken);
}

TEST(Process, LargeMessagesAndManyCallsCrossTheSocket) {
  constexpr std::uint32_t kBig = 4u << 20;
  constexpr int kCalls = 2000;
  TempDir dir{"vatic-proc"};
  PeerProcess peer(listen_on(dir.unix_address("b.sock")));
  TestVat t;
  Ref<PeerEcho> b = t.connect(peer);
  // Both directions larger than any socket buffer: written and read in pieces.
  Promise<Bytes> big = b.send<&PeerEcho::data>(kBig);
  Promise<std::uint64_t> sent = b.send<&PeerEcho::size_of>(Bytes(kBig, 0xa5));
  std::vector<Promise<std::int64_t>> echoes;
  for (int i = 0; i < kCalls; ++i) echoes.push_back(b.send<&PeerEcho::echo>(i));
  Bytes got = t.get(big);
  EXPECT_EQ(got.size(), kBig);
  EXPECT_TRUE(got == Bytes(kBig, 0x5a));
  EXPECT_EQ(t.get(sent), kBig);
  for (int i = 0; i < kCalls; ++i) ASSERT_EQ(t.get(echoes[i]), i);
}

// A bootstrap object holding references into a session (an import, a promise
// whose answer the session awaits) must not keep that session, and through it
// itself, alive once the session has ended. The peer runs with --keep-refs,
// so it exits 3 if any object outlives its node and its vat's release.
// TODO(soon): fails until captp::Session lets go of `bootstrap_` when it ends
// (break_everything, captp/internal/disconnect.cpp): session -> bootstrap object ->
// import or answer listener -> Ptr<Session> is a cycle nothing breaks.
TEST(Process, PeerFreesEverythingOnceItsSessionsEnd) {
  std::vector<std::string> args = listen_on("127.0.0.1:0");
  args.push_back("--keep-refs");
  PeerProcess peer(args);
  TestVat t;
  Ref<PeerEcho> b = t.connect(peer);
  t.get(b.send<&PeerEcho::hold>(t.vat.make<PeerEcho>(1)));
  Promise<std::int64_t> hung = b.send<&PeerEcho::hang>();
  ASSERT_EQ(t.get(b.send<&PeerEcho::echo>(2)), 2);
  int status = peer.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe_wait_status(status) << " (3: objects outlived the node; see the peer's stderr)";
}

TEST(Process, WrongVatIdBreaksTheBootstrapAndThePeerServesOn) {
  PeerProcess peer(listen_on("127.0.0.1:0"));
  TestVat t;
  captp::VatId wrong = captp::Identity::generate().id();
  Ref<PeerEcho> w = t.node->connect<PeerEcho>(wrong, peer.address());
  Error e = t.error_of(w.send<&PeerEcho::echo>(1));
  // The responder cannot tell whom the dialer meant and hangs up; the
  // dialer's reason names the vat it expected.
  EXPECT_EQ(e.kind, ErrorKind::disconnected) << to_string(e);
  EXPECT_NE(e.reason.find(wrong.to_text()), std::string::npos) << e.reason;
  EXPECT_EQ(w.kind(), RefKind::broken);
  EXPECT_TRUE(t.node->sessions().empty());

  Ref<PeerEcho> b = t.connect(peer);
  EXPECT_EQ(t.get(b.send<&PeerEcho::echo>(7)), 7);
  ASSERT_EQ(t.node->sessions().size(), 1u);
  EXPECT_EQ(t.node->sessions()[0].peer, peer.id());
}

// Each of two vats dials the other before either handshake is done (two
// vats introduced to each other at once): both connect() references must
// work, whichever of the two sessions the nodes keep. In-process, over memory
// pipes, because only there the interleaving can be forced; across processes
// (T listening, B started with --connect T, T dialing B) it shows up in about
// one round in ten.
// Known gap, disabled until fixed: Node hands waiting connect() promises to
// the first session whose handshake finishes (attach_waiting, captp/node.cpp)
// and closes it if the other session wins the tie-break (add_session), so
// those references break (disconnected; a retry works) though a live session
// remains. The fix settles the crossing before a session is used.
TEST(CrossedDials, BothConnectReferencesSurvive) {
  Vat vlo{VatOptions{.name = "lo", .spin_before_block = Duration::zero()}};
  Vat vhi{VatOptions{.name = "hi", .spin_before_block = Duration::zero()}};
  captp::Identity i1 = captp::Identity::generate(), i2 = captp::Identity::generate();
  bool swap = i2.id() < i1.id();
  auto lo = std::make_unique<captp::Node>(vlo, swap ? std::move(i2) : std::move(i1));
  auto hi = std::make_unique<captp::Node>(vhi, swap ? std::move(i1) : std::move(i2));
  ASSERT_LT(lo->id(), hi->id());  // the session lo dials wins the tie-break
  lo->set_bootstrap(vlo.make<PeerEcho>(1));
  hi->set_bootstrap(vhi.make<PeerEcho>(2));
  auto [lo_dials, hi_answers] = captp::memory_pipe(vlo.io(), vhi.io());
  auto [hi_dials, lo_answers] = captp::memory_pipe(vhi.io(), vlo.io());
  hi->accept(std::move(hi_answers));
  lo->accept(std::move(lo_answers));
  Ref<PeerEcho> to_hi = lo->connect<PeerEcho>(hi->id(), std::move(lo_dials));
  Ref<PeerEcho> to_lo = hi->connect<PeerEcho>(lo->id(), std::move(hi_dials));
  Promise<int> at_hi = to_hi.send<&PeerEcho::depth>();
  Promise<int> at_lo = to_lo.send<&PeerEcho::depth>();
  // lo's loop first, then hi's, in rounds: one fixed interleaving.
  for (int i = 0; i < 1000 && (at_hi.pending() || at_lo.pending()); ++i) {
    vlo.run_until_idle();
    vhi.run_until_idle();
  }
  ASSERT_FALSE(at_hi.pending() || at_lo.pending());
  EXPECT_FALSE(at_hi.is_broken()) << to_string(at_hi.error());
  EXPECT_FALSE(at_lo.is_broken()) << to_string(at_lo.error());
  // One live session each, the one lo dialed; hi's own, retired, serves
  // to_lo until that is dropped, and then hi closes it (captp.md 9).
  for (captp::Node* n : {lo.get(), hi.get()}) {
    int live = 0;
    for (const captp::SessionInfo& s : n->sessions())
      if (s.open) live += s.initiator == (n == lo.get()) ? 1 : 100;
    EXPECT_EQ(live, 1);
  }
  to_hi = {};
  to_lo = {};
  for (int i = 0; i < 1000 && (lo->sessions().size() > 1 || hi->sessions().size() > 1); ++i) {
    vlo.run_until_idle();
    vhi.run_until_idle();
  }
  EXPECT_EQ(lo->sessions().size(), 1u);
  EXPECT_EQ(hi->sessions().size(), 1u);
  lo.reset();
  hi.reset();
  for (int i = 0; i < 100; ++i) {
    if (vlo.run_until_idle() + vhi.run_until_idle() == 0) break;
  }
}

}  // namespace
}  // namespace vatic::test
