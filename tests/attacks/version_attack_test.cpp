// Hellos that do not negotiate (spec/handshake.md, "Version and features"):
// a peer of another major, or one whose hello is malformed, completes the Noise
// handshake with the victim Node by hand and is refused with a close frame
// that says why; the victim's other sessions and its accepting go on.
//
//   mallory (CaptpHandshake by hand, any hello) --memory pipe--+
//                                                              +--> victim Node
//   honest  (Node::connect)                     --memory pipe--+
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "captp/internal/crypto/frame.h"
#include "captp/internal/crypto/handshake.h"
#include "tests/attacks/hostile_peer.h"

namespace vatic::test {
namespace {

using Bytes = std::vector<std::uint8_t>;
using captp::CaptpHandshake;
using captp::Hello;

class VersionAttack : public SessionAttack {
 protected:
  std::unique_ptr<captp::Stream> raw;  // mallory's end of a second connection

  void write(const Bytes& b) {
    bool done = false;
    raw->async_write({boost::asio::buffer(b)}, [&](boost::system::error_code, std::size_t) { done = true; });
    ASSERT_TRUE(run_until([&] { return done; }));
  }
  Bytes read(std::size_t n) {
    Bytes b(n);
    bool done = false;
    captp::async_read_exactly(*raw, boost::asio::buffer(b), [&](boost::system::error_code ec, std::size_t got) {
      b.resize(ec ? got : n);
      done = true;
    });
    EXPECT_TRUE(run_until([&] { return done; }));
    return b;
  }
  // The one close frame the victim sends after refusing: its reason.
  std::string close_reason(captp::CipherState receive) {
    captp::FrameOpener opener(std::move(receive));
    Bytes length = read(captp::kFrameLengthBytes);
    if (length.size() != captp::kFrameLengthBytes) return "(no frame)";
    std::uint32_t L = captp::decode_frame_length(length.data());
    if (!opener.check_length(L)) return "(bad length)";
    Bytes body = read(L);
    auto opened = opener.open_in_place(length.data(), body.data(), L);
    if (!opened || opened.value().kind != captp::FrameKind::close) return "(not a close frame)";
    return std::string(reinterpret_cast<const char*>(body.data() + opened.value().payload_offset),
                       opened.value().payload_size);
  }
  // Mallory dials the victim stating `hello`; returns the reason of the close
  // frame she gets back.
  std::string dial_with(const Hello& hello) {
    auto [m, v] = captp::memory_pipe(mio, victim_vat.io());
    raw = std::move(m);
    victim->accept(std::move(v));
    auto hs = CaptpHandshake::initiator(mallory, victim->id(), captp::InstanceId::generate(), hello);
    write(hs.write_message());
    Bytes m2 = read(captp::kHandshakeMessage2Bytes);
    EXPECT_TRUE(hs.read_message(m2));
    write(hs.write_message());
    auto done = hs.finish();
    EXPECT_EQ(done.peer_hello, Hello::offered(true)) << "the victim states this version's hello, handoff included";
    return close_reason(std::move(done.receive));
  }
  void expect_still_serving() {
    EXPECT_EQ(victim->sessions().size(), 2u) << "mallory's first session and the honest one remain";
    expect_honest_works();
    EXPECT_EQ(echo(50, 7), 7) << "mallory's earlier session still answers";
  }
};

TEST_F(VersionAttack, AnInitiatorOfAnotherMajorIsRefusedNamingBothVersions) {
  std::uint64_t failed = victim->stats().handshakes_failed;
  std::string reason = dial_with(Hello{{2, 3}, captp::kOfferedFeatures});
  EXPECT_NE(reason.find("this vat speaks vatic CapTP 1.1, the peer speaks 2.3"), std::string::npos) << reason;
  ASSERT_TRUE(run_until([&] { return victim->stats().handshakes_failed > failed; }));
  EXPECT_NE(victim->stats().last_handshake_failure.find("the peer speaks 2.3"), std::string::npos)
      << victim->stats().last_handshake_failure;
  expect_still_serving();
}

TEST_F(VersionAttack, AMalformedHelloIsRefusedWithAReasonAndTheNodeKeepsServing) {
  std::uint64_t failed = victim->stats().handshakes_failed;
  std::string reason = dial_with(Hello{{0, 0}, 0});
  EXPECT_NE(reason.find("malformed hello"), std::string::npos) << reason;
  ASSERT_TRUE(run_until([&] { return victim->stats().handshakes_failed > failed; }));
  EXPECT_NE(victim->stats().last_handshake_failure.find("malformed hello"), std::string::npos)
      << victim->stats().last_handshake_failure;
  expect_still_serving();
}

// A later minor of this major, offering features nobody knows yet: accepted,
// at this version, with only the features both sides know and offer.
TEST_F(VersionAttack, ALaterMinorWithUnknownFeatureBitsIsServedAtThisVersion) {
  auto [m, v] = captp::memory_pipe(mio, victim_vat.io());
  victim->accept(std::move(v));
  Hello future{{1, 9}, ~captp::FeatureSet{0} << 2 | captp::feature_bit(captp::Feature::cancel)};
  raw = std::move(m);
  auto hs = CaptpHandshake::initiator(mallory, victim->id(), captp::InstanceId::generate(), future);
  write(hs.write_message());
  ASSERT_TRUE(hs.read_message(read(captp::kHandshakeMessage2Bytes)));
  write(hs.write_message());
  ASSERT_TRUE(run_until([&] { return victim->sessions().size() == 3; }));
  // Mallory's first session stated 1.0; this one is served at the victim's
  // 1.1, without handoff, which she did not offer.
  bool served = false;
  for (const captp::SessionInfo& s : victim->sessions()) {
    if (s.peer != mallory.id() || s.version != captp::ProtocolVersion{1, 1}) continue;
    served = true;
    EXPECT_EQ(s.features, std::vector<std::string>{"cancel"});
  }
  EXPECT_TRUE(served) << "the later minor was not served at this version";
  raw->close();
  ASSERT_TRUE(run_until([&] { return victim->sessions().size() == 2; }));
  expect_still_serving();
}

// The victim dials a vat that answers with another major: the dial fails
// with the reason, and the victim tells that vat why in a close frame.
TEST_F(VersionAttack, ARespondersOtherMajorBreaksTheDialWithBothVersions) {
  // Carol: mallory already has a session, which a dial to her would reuse.
  captp::Identity carol = captp::Identity::generate();
  auto [m, v] = captp::memory_pipe(mio, victim_vat.io());
  raw = std::move(m);
  Ref<Echo> far = victim->connect<Echo>(carol.id(), std::move(v));
  Promise<std::int64_t> p = far.send<&Echo::echo>(1);
  auto hs = CaptpHandshake::responder(carol, captp::InstanceId::generate(), Hello{{3, 0}, 1});
  ASSERT_TRUE(hs.read_message(read(captp::kHandshakeMessage1Bytes)));
  write(hs.write_message());
  ASSERT_TRUE(hs.read_message(read(captp::kHandshakeMessage3Bytes)));
  std::string reason = close_reason(hs.finish().receive);
  EXPECT_NE(reason.find("this vat speaks vatic CapTP 1.1, the peer speaks 3.0"), std::string::npos) << reason;
  ASSERT_TRUE(run_until([&] { return !p.pending(); }));
  ASSERT_TRUE(p.is_broken());
  EXPECT_NE(p.error().reason.find("the peer speaks 3.0"), std::string::npos) << p.error().reason;
  expect_still_serving();
}

// spec/admin.md "session": the negotiated version and features are shown.
TEST_F(VersionAttack, SessionRecordsShowTheNegotiatedVersionAndFeatures) {
  Value all = victim->sessions_info();
  ASSERT_EQ(all.as_list().size(), 2u);
  // Mallory's session stated 1.0 (cancel only); the honest node's is 1.1.
  std::vector<std::string> seen;
  for (const Value& s : all.as_list()) {
    const Value* version = s.as_record().find("version");
    const Value* features = s.as_record().find("features");
    ASSERT_TRUE(version && features) << s.to_string();
    seen.push_back(version->as_text());
    std::vector<std::string> names;
    for (const Value& f : features->as_list()) names.push_back(f.as_text());
    if (version->as_text() == "1.0") EXPECT_EQ(names, std::vector<std::string>{"cancel"});
    if (version->as_text() == "1.1") EXPECT_EQ(names, (std::vector<std::string>{"cancel", "handoff"}));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"1.0", "1.1"}));
}

}  // namespace
}  // namespace vatic::test
