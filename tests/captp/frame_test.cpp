#include "captp/internal/crypto/frame.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "tests/captp/crypto_test_util.h"
#include "vat/error.h"

namespace vatic::captp {
namespace {

using Bytes = std::vector<uint8_t>;
using test::bytes_of;
using test::Delivered;
using test::error_of;

Bytes sealed(FrameSealer& s, FrameKind kind, std::span<const uint8_t> payload) {
  Bytes out;
  s.seal(kind, payload, out);
  return out;
}

const Delivered& delivered(const test::Outcome& o) {
  static const Delivered none{FrameKind::data, {}, false};
  EXPECT_FALSE(test::is_error(o)) << error_of(o);
  return test::is_error(o) ? none : std::get<Delivered>(o);
}

TEST(Frame, EveryKindRoundTrips) {
  auto [sealer, opener] = test::frame_pair();
  const Bytes data = test::random_bytes(1000);
  const Bytes reason = bytes_of("adi\xc3\xb3s \xe2\x82\xac");
  Bytes stream;
  sealer.seal(FrameKind::data, data, stream);
  sealer.seal(FrameKind::ping, {}, stream);
  sealer.seal(FrameKind::close, reason, stream);
  sealer.seal(FrameKind::data, {}, stream);
  auto got = test::drain(opener, stream);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(delivered(got[0]).kind, FrameKind::data);
  EXPECT_EQ(delivered(got[0]).payload, data);
  EXPECT_EQ(delivered(got[1]).kind, FrameKind::ping);
  EXPECT_TRUE(delivered(got[1]).payload.empty());
  EXPECT_EQ(delivered(got[2]).kind, FrameKind::close);
  EXPECT_EQ(delivered(got[2]).payload, reason);
  EXPECT_TRUE(delivered(got[3]).payload.empty());
  EXPECT_EQ(sealer.frames_sealed(), 4u);
  EXPECT_EQ(opener.frames_opened(), 4u);
}

TEST(Frame, WireLayoutIsBigEndianLengthThenCiphertextOfHeaderPayloadAndTag) {
  auto [sealer, opener] = test::frame_pair();
  auto frame = sealed(sealer, FrameKind::data, Bytes(300, 0xab));
  ASSERT_EQ(frame.size(), 4u + 8 + 300 + 16);
  EXPECT_EQ(frame[0], 0);
  EXPECT_EQ(frame[1], 0);
  EXPECT_EQ(frame[2], 0x01);
  EXPECT_EQ(frame[3], 0x44);  // 8 + 300 + 16 = 324 = 0x144
  EXPECT_EQ(decode_frame_length(frame.data()), 324u);
}

TEST(Frame, PayloadIsEightByteAlignedWhenTheBufferIs) {
  auto [sealer, opener] = test::frame_pair();
  auto got = test::open_one(opener, sealed(sealer, FrameKind::data, Bytes(13, 1)));
  EXPECT_TRUE(delivered(got).aligned);
}

TEST(Frame, SealInPlaceProducesTheSameBytesAsSeal) {
  auto key = test::random_secret<32>();
  FrameSealer a(CipherState(key.copy())), b(CipherState(key.copy()));
  const Bytes payload = test::random_bytes(77);
  for (int i = 0; i < 3; ++i) {
    Bytes via_seal = {0xee};  // something already in the buffer
    a.seal(FrameKind::data, payload, via_seal);
    Bytes in_place = {0xee};
    in_place.resize(1 + kFrameLengthBytes + kFrameHeaderBytes);
    in_place.insert(in_place.end(), payload.begin(), payload.end());
    b.seal_in_place(FrameKind::data, in_place, 1);
    EXPECT_EQ(via_seal, in_place);
  }
}

TEST(Frame, BothSidesRekeyEveryNFrames) {
  auto [sealer, opener] = test::frame_pair(3);
  Bytes stream;
  for (int i = 0; i < 10; ++i) sealer.seal(FrameKind::data, Bytes(5, static_cast<uint8_t>(i)), stream);
  auto got = test::drain(opener, stream);
  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(delivered(got[i]).payload, Bytes(5, static_cast<uint8_t>(i)));
}

TEST(Frame, RekeyingChangesTheKeyExactlyAtTheBoundary) {
  auto key = test::random_secret<32>();
  FrameSealer rekeying(CipherState(key.copy()), 3), steady(CipherState(key.copy()), 1000);
  for (int i = 1; i <= 4; ++i) {
    auto a = sealed(rekeying, FrameKind::ping, {});
    auto b = sealed(steady, FrameKind::ping, {});
    if (i <= 3) {
      EXPECT_EQ(a, b) << "frame " << i;
    } else {
      EXPECT_NE(a, b) << "frame " << i << " is under the new key";
    }
  }
}

TEST(Frame, MismatchedRekeySchedulesFailAtTheFirstBoundary) {
  auto key = test::random_secret<32>();
  FrameSealer sealer(CipherState(key.copy()), 3);
  FrameOpener opener(CipherState(key.copy()), kDefaultMaxFrame, 4);
  Bytes stream;
  for (int i = 0; i < 5; ++i) sealer.seal(FrameKind::ping, {}, stream);
  auto got = test::drain(opener, stream);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(error_of(got[3]), "frame authentication failed");
}

RC_GTEST_PROP(Frame, RandomFrameSequencesRoundTrip, ()) {
  const auto rekey_every = *rc::gen::inRange<uint64_t>(1, 6);
  const auto payloads =
      *rc::gen::container<std::vector<Bytes>>(rc::gen::container<Bytes>(rc::gen::arbitrary<uint8_t>()));
  auto [sealer, opener] = test::frame_pair(rekey_every);
  Bytes stream;
  for (const auto& p : payloads) sealer.seal(FrameKind::data, p, stream);
  auto got = test::drain(opener, stream);
  RC_ASSERT(got.size() == payloads.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    RC_ASSERT(!test::is_error(got[i]));
    RC_ASSERT(std::get<Delivered>(got[i]).payload == payloads[i]);
  }
}

TEST(Frame, LargestFrameIsAcceptedAndOneByteMoreIsRefused) {
  auto [sealer, opener] = test::frame_pair();
  Bytes payload(kDefaultMaxFrame - kMinFrame, 0x5a);
  auto frame = sealed(sealer, FrameKind::data, payload);
  EXPECT_EQ(decode_frame_length(frame.data()), kDefaultMaxFrame);
  EXPECT_EQ(delivered(test::open_one(opener, frame)).payload.size(), payload.size());
  payload.push_back(0);
  Bytes out;
  EXPECT_THROW(sealer.seal(FrameKind::data, payload, out), VatError);
  EXPECT_TRUE(out.empty()) << "a refused seal leaves the buffer untouched";
}

TEST(Frame, CloseReasonsUpTo256BytesAreAccepted) {
  auto [sealer, opener] = test::frame_pair();
  auto got = test::open_one(opener, sealed(sealer, FrameKind::close, Bytes(256, 'x')));
  EXPECT_EQ(delivered(got).payload.size(), 256u);
}

TEST(FrameOpener, CheckLengthNamesTheBounds) {
  auto [sealer, opener] = test::frame_pair(kDefaultRekeyEvery, 100);
  EXPECT_EQ(opener.check_length(0).error(), "frame length 0 is below the minimum of 24 bytes");
  EXPECT_EQ(opener.check_length(23).error(), "frame length 23 is below the minimum of 24 bytes");
  EXPECT_TRUE(opener.check_length(24));
  EXPECT_TRUE(opener.check_length(100));
  EXPECT_EQ(opener.check_length(101).error(), "frame length 101 exceeds the maximum of 100 bytes");
  auto [s2, default_opener] = test::frame_pair();
  EXPECT_EQ(default_opener.check_length(kDefaultMaxFrame + 1).error(),
            "frame length 16777217 exceeds the maximum of 16777216 bytes");
}

TEST(FrameOpener, ReportsEachFailurePrecisely) {
  struct Case {
    Bytes plaintext;  // header and payload, sealed by a key holder
    std::string error;
  };
  std::vector<Case> cases = {
      {{7, 0, 0, 0, 0, 0, 0, 0}, "unknown frame kind 7"},
      {{0, 0, 0, 0, 0, 0, 0, 0}, "unknown frame kind 0"},
      {{1, 0, 0, 0, 0, 0, 0, 1}, "nonzero reserved header bytes"},
      {{3, 0, 0, 0, 0, 0, 0, 0, 'x'}, "ping frame carries 1 payload bytes"},
      {{2, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0x80}, "close reason is not valid UTF-8"},
  };
  Bytes long_close = {2, 0, 0, 0, 0, 0, 0, 0};
  long_close.resize(8 + 257, 'a');
  cases.push_back({long_close, "close reason longer than 256 bytes"});
  for (const auto& c : cases) {
    auto key = test::random_secret<32>();
    CipherState rogue(key.copy());
    FrameOpener opener(CipherState(key.copy()));
    EXPECT_EQ(error_of(test::open_one(opener, test::rogue_frame(rogue, c.plaintext))), c.error);
    EXPECT_TRUE(opener.dead());
  }
}

TEST(FrameOpener, RefusesAMismatchedLengthArgumentAndStaysDead) {
  auto [sealer, opener] = test::frame_pair();
  auto frame = sealed(sealer, FrameKind::ping, {});
  Bytes buf(frame.begin() + 4, frame.end());
  buf.push_back(0);
  auto r = opener.open_in_place(frame.data(), buf.data(), buf.size());
  EXPECT_EQ(r.error(), "length prefix says 24 bytes but 25 were passed");
  auto again = opener.open_in_place(frame.data(), buf.data(), 24);
  EXPECT_EQ(again.error(),
            "frame opener is dead after an earlier error: length prefix says 24 bytes but 25 were passed");
}

TEST(FrameOpener, AuthenticationFailureIsReportedAndFinal) {
  auto [sealer, opener] = test::frame_pair();
  auto frame = sealed(sealer, FrameKind::data, Bytes(10, 1));
  frame[10] ^= 0x20;
  EXPECT_EQ(error_of(test::open_one(opener, frame)), "frame authentication failed");
  auto next = sealed(sealer, FrameKind::data, Bytes(10, 1));
  EXPECT_EQ(error_of(test::open_one(opener, next)),
            "frame opener is dead after an earlier error: frame authentication failed");
}

TEST(FrameSealer, RefusesCallerBugsWithoutTouchingTheBuffer) {
  auto [sealer, opener] = test::frame_pair();
  Bytes out = {1, 2, 3};
  EXPECT_THROW(sealer.seal(FrameKind::ping, Bytes{1}, out), VatError);
  EXPECT_THROW(sealer.seal(FrameKind::close, Bytes(257, 'a'), out), VatError);
  EXPECT_THROW(sealer.seal(FrameKind::close, Bytes{0xff}, out), VatError);
  EXPECT_THROW(sealer.seal(static_cast<FrameKind>(9), {}, out), VatError);
  EXPECT_EQ(out, (Bytes{1, 2, 3}));
  Bytes short_buf(11);
  EXPECT_THROW(sealer.seal_in_place(FrameKind::data, short_buf, 0), VatError);
  EXPECT_THROW(sealer.seal_in_place(FrameKind::data, short_buf, 12), VatError);
  EXPECT_EQ(sealer.frames_sealed(), 0u);
}

TEST(FrameSealer, ConstructionChecksItsArguments) {
  EXPECT_THROW(FrameSealer(CipherState{}), VatError);
  EXPECT_THROW(FrameSealer(CipherState(test::random_secret<32>()), 0), VatError);
  EXPECT_THROW(FrameOpener(CipherState{}), VatError);
  EXPECT_THROW(FrameOpener(CipherState(test::random_secret<32>()), 23), VatError);
  EXPECT_THROW(FrameOpener(CipherState(test::random_secret<32>()), 100, 0), VatError);
}

TEST(Utf8, AcceptsWellFormedAndRejectsMalformedSequences) {
  auto ok = [](std::string_view s) { return is_valid_utf8(bytes_of(s)); };
  EXPECT_TRUE(ok(""));
  EXPECT_TRUE(ok("plain ascii"));
  EXPECT_TRUE(ok("\xc3\xa9"));           // U+00E9
  EXPECT_TRUE(ok("\xe2\x82\xac"));       // U+20AC
  EXPECT_TRUE(ok("\xf0\x9f\x98\x80"));   // U+1F600
  EXPECT_TRUE(ok("\xf4\x8f\xbf\xbf"));   // U+10FFFF
  EXPECT_FALSE(ok("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(ok("\xe0\x80\x80"));      // overlong
  EXPECT_FALSE(ok("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(ok("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(ok("\x80"));              // lone continuation
  EXPECT_FALSE(ok("\xf8\x88\x80\x80\x80"));
  EXPECT_FALSE(ok("\xe2\x82"));  // truncated
  EXPECT_FALSE(ok("\xe2\x28\xa1"));
}

}  // namespace
}  // namespace vatic::captp
