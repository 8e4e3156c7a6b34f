// CapTP sessions between two vats over an in-memory pipe: calls, pipelining,
// capability passing both ways, promise resolution, GC and disconnect.
#include <gtest/gtest.h>

#include "captp/internal/remote.h"
#include "tests/captp/captp_objects.h"

namespace vatic::test {
namespace {

TEST(Session, EchoOverThePipe) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  EXPECT_EQ(t.get(b.send<&Echo::echo>(41)), 41);
  EXPECT_EQ(t.get(b.send("echo", 5)), Value(5));
  ASSERT_EQ(t.a->sessions().size(), 1u);
  EXPECT_EQ(t.a->sessions()[0].peer, t.b->id());
  EXPECT_EQ(t.b->sessions()[0].peer, t.a->id());
}

// The per-session bootstrap learns the caller's authenticated vat id: the
// object made for `a` answers with a depth naming `a`'s id, and nothing in the
// request could have claimed another one.
// Large byte strings are referenced by the outgoing message instead of copied
// into its arena when they are whole words; every size must arrive intact,
// as an argument and as an answer, typed and by name.
TEST(Session, BytesOfEverySizeCrossBothWaysIntact) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  for (std::size_t n : {0u, 7u, 4095u, 4096u, 4100u, 4104u, 65536u, 1u << 20, 3u << 20}) {
    Bytes in(n);
    for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<std::uint8_t>(i * 31 + (i >> 10));
    Bytes want(in.rbegin(), in.rend());
    EXPECT_EQ(t.get(b.send<&Echo::mirror>(in)), want) << n << " bytes";
    EXPECT_EQ(t.get(b.send("mirror", Value(in))), Value(want)) << n << " bytes by name";
  }
}

TEST(Session, BootstrapForEachPeerSeesTheAuthenticatedPeer) {
  TwoVats t;
  std::vector<captp::VatId> asked;
  t.b->set_bootstrap_for([&](const captp::VatId& peer) {
    asked.push_back(peer);
    return t.vb.make<Echo>(static_cast<int>(asked.size()));
  });
  auto [ea, eb] = captp::memory_pipe(t.va.io(), t.vb.io());
  t.b->accept(std::move(eb));
  Ref<Echo> b = t.a->connect<Echo>(t.b->id(), std::move(ea));
  EXPECT_EQ(t.get(b.send<&Echo::depth>()), 1);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], t.a->id());
}

TEST(Session, ErrorsCrossWithTheirKindAndNoStack) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  Error e = t.error_of(b.send<&Echo::boom>());
  EXPECT_EQ(e.kind, ErrorKind::failed);
  EXPECT_EQ(e.reason, "boom");
  Error u = t.error_of(b.send("no_such_method"));
  EXPECT_EQ(u.kind, ErrorKind::unimplemented);
}

TEST(Session, PipelinedChainGoesOutBeforeAnyAnswer) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);  // handshake done
  Promise<Ref<Echo>> cur = b.send<&Echo::next>();
  for (int i = 1; i < 10; ++i) cur = cur.send<&Echo::next>();
  Promise<int> depth = cur.send<&Echo::depth>();
  // Every call left in one flush, before b answered anything: b sees 11 calls
  // (and a's finishes come only after the answers).
  t.va.run_until_idle();
  EXPECT_EQ(t.a->sessions()[0].stats.questions, 11u);
  EXPECT_EQ(t.get(depth), 10);
}

TEST(Session, PipelineIntoAFieldOfAReturnedRecord) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  Promise<Value> pair = b.send<&Echo::pair>();
  Ref<Echo> left = field<Echo>(pair, "left");
  Promise<int> d = left.send<&Echo::depth>();
  EXPECT_EQ(t.get(d), 10);
  EXPECT_EQ(t.get(pair).as_record().find("n")->as_int(), 7);
  Error missing = t.error_of(field<Echo>(pair, "nope").send<&Echo::depth>());
  EXPECT_EQ(missing.kind, ErrorKind::failed);
}

TEST(Session, CapabilitiesPassBothWays) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  Ref<Echo> mine = t.va.make<Echo>(100);
  // a's object goes to b, and b calls it back.
  t.get(b.send<&Echo::hold>(mine));
  EXPECT_EQ(t.get(b.send<&Echo::call_held>(9)), 9);
  // Coming home, it is a's own near object again.
  Ref<Echo> back = t.get(b.send<&Echo::held>());
  EXPECT_TRUE(back.is_near());
  EXPECT_TRUE(back == mine);
  // b's objects come to a as far references, the same one each time.
  Ref<Echo> n1 = t.get(b.send<&Echo::same>(b));
  EXPECT_EQ(n1.kind(), RefKind::far);
  EXPECT_TRUE(n1 == b || n1.kind() == RefKind::far);
}

TEST(Session, ExportedPromiseResolvesLater) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  Promise<Ref<Echo>> later = b.send<&Echo::later>();
  Promise<int> d = later.send<&Echo::depth>();  // pipelined on the pending answer
  t.run_until([&] { return t.b->sessions().size() == 1; });
  t.drain();
  EXPECT_TRUE(d.pending());
  Ref<Echo> n = t.get(b.send<&Echo::next>());
  t.get(b.send<&Echo::resolve_later>(n));
  EXPECT_EQ(t.get(d), 1);
}

TEST(Session, ResolutionToAnObjectOfOurOwnKeepsEOrder) {
  // b answers with a reference to a's own object: calls pipelined through b
  // and calls sent after the answer must reach the object in the order sent.
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  Ref<Echo> mine = t.va.make<Echo>(0);
  Promise<Ref<Echo>> p = b.send<&Echo::same>(mine);
  std::vector<Promise<std::int64_t>> order;
  for (int i = 0; i < 5; ++i) order.push_back(p.send<&Echo::order>(i));
  t.run_until([&] { return !p.pending(); });
  for (int i = 5; i < 10; ++i) order.push_back(p.send<&Echo::order>(i));
  for (auto& o : order) t.get(o);
  std::vector<std::int64_t> want{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(mine.call<&Echo::seen>(), want);
}

TEST(Session, DroppedReferencesAreReleasedOnTheExporter) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);
  std::size_t before = t.vb.live_objects();
  {
    std::vector<Ref<Echo>> refs;
    for (int i = 0; i < 20; ++i) refs.push_back(t.get(b.send<&Echo::next>()));
    EXPECT_EQ(t.vb.live_objects(), before + 20);
  }
  EXPECT_TRUE(t.run_until([&] { return t.vb.live_objects() == before; }));
  EXPECT_EQ(t.b->sessions()[0].stats.exports, 1u);  // the bootstrap object only
}

TEST(Session, DisconnectBreaksEverythingWithDisconnected) {
  TwoVats t;
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);
  Promise<Ref<Echo>> later = b.send<&Echo::later>();
  Promise<int> piped = later.send<&Echo::depth>();
  t.drain();
  t.b->disconnect(t.a->id(), "test over");
  Error e = t.error_of(piped);
  EXPECT_EQ(e.kind, ErrorKind::disconnected);
  EXPECT_NE(e.reason.find("test over"), std::string::npos) << e.reason;
  EXPECT_EQ(t.error_of(later).kind, ErrorKind::disconnected);
  EXPECT_EQ(b.kind(), RefKind::broken);
  EXPECT_EQ(t.error_of(b.send<&Echo::echo>(2)).kind, ErrorKind::disconnected);
}

TEST(Session, ConnectToTheWrongKeyFails) {
  TwoVats t;
  t.b->set_bootstrap(t.vb.make<Echo>());
  auto [ea, eb] = captp::memory_pipe(t.va.io(), t.vb.io());
  t.b->accept(std::move(eb));
  auto wrong = captp::Identity::generate().id();
  Ref<Echo> b = t.a->connect<Echo>(wrong, std::move(ea));
  Error e = t.error_of(b.send<&Echo::echo>(1));
  // The responder cannot tell who was meant and hangs up: the dialer sees a
  // disconnect that names the vat it expected.
  EXPECT_EQ(e.kind, ErrorKind::disconnected) << e.reason;
  EXPECT_NE(e.reason.find(wrong.to_text()), std::string::npos) << e.reason;
  EXPECT_TRUE(t.a->sessions().empty());
}

TEST(Session, DroppingAPendingPromiseSendsFinish) {
  captp::NodeOptions o;
  o.session.cancel_sweep = std::chrono::milliseconds(1);
  TwoVats t(o);
  Ref<Echo> b = t.connect_pipe();
  ASSERT_EQ(t.get(b.send<&Echo::echo>(1)), 1);
  { auto dropped = b.send<&Echo::later>(); }
  t.drain();
  EXPECT_TRUE(t.run_until([&] { return t.b->sessions()[0].stats.answers == 0; }));
  EXPECT_TRUE(t.run_until([&] { return t.a->sessions()[0].stats.questions == 0; }));
}

}  // namespace
}  // namespace vatic::test
