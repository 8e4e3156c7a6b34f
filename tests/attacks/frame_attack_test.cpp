// Attacks on the transport frames (spec/handshake.md, "Frames").
//
//   sealer --[ bytes ]--> attacker on the path --[ bytes' ]--> stream reader --> opener
//
// The attacker sees and rewrites bytes but holds no key: every change must be
// refused with a reason and must never deliver a payload. A few cases model a
// hostile peer that does hold the key (rogue_frame): it can say anything, but
// only inside the frame format. Nothing here may crash or allocate according
// to an unchecked length.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "captp/internal/crypto/frame.h"
#include "captp/internal/crypto/handshake.h"
#include "tests/captp/crypto_test_util.h"

namespace vatic::captp {
namespace {

using Bytes = std::vector<uint8_t>;
using test::error_of;
using test::is_error;

struct Wire {
  Secret<32> key = test::random_secret<32>();
  FrameSealer sealer{CipherState(key.copy())};
  FrameOpener fresh_opener() { return FrameOpener(CipherState(key.copy())); }
  Bytes frame(std::size_t payload_size = 20) {
    Bytes out;
    sealer.seal(FrameKind::data, test::random_bytes(payload_size), out);
    return out;
  }
};

Bytes concat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// True if nothing was delivered before the first (and only) error.
bool refused_before_delivery(const std::vector<test::Outcome>& got) { return !got.empty() && is_error(got.front()); }

TEST(FrameAttack, TruncatedFramesAreRefused) {
  Wire w;
  auto f = w.frame();
  {
    auto opener = w.fresh_opener();
    auto got = test::drain(opener, Bytes(f.begin(), f.end() - 1));
    EXPECT_EQ(error_of(got.front()), "stream ended inside a frame");
  }
  {
    // The attacker cuts the tail and rewrites the prefix to match.
    Bytes cut(f.begin(), f.end() - 5);
    encode_frame_length(static_cast<uint32_t>(cut.size() - 4), cut.data());
    auto opener = w.fresh_opener();
    EXPECT_EQ(error_of(test::open_one(opener, cut)), "frame authentication failed");
  }
  {
    Bytes cut(f.begin(), f.begin() + 4 + 20);
    encode_frame_length(20, cut.data());
    auto opener = w.fresh_opener();
    EXPECT_EQ(error_of(test::open_one(opener, cut)), "frame length 20 is below the minimum of 24 bytes");
  }
}

TEST(FrameAttack, ReplayedFramesAreRefused) {
  Wire w;
  auto f = w.frame();
  auto opener = w.fresh_opener();
  auto got = test::drain(opener, concat(f, f));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(is_error(got[0]));
  EXPECT_EQ(error_of(got[1]), "frame authentication failed");
}

TEST(FrameAttack, ReplayIntoANewConnectionUnderAnotherKeyIsRefused) {
  Wire first, second;
  auto f = first.frame();
  auto opener = second.fresh_opener();
  EXPECT_EQ(error_of(test::open_one(opener, f)), "frame authentication failed");
}

TEST(FrameAttack, ReorderedFramesAreRefused) {
  Wire w;
  auto f1 = w.frame();
  auto f2 = w.frame();
  auto opener = w.fresh_opener();
  auto got = test::drain(opener, concat(f2, f1));
  EXPECT_TRUE(refused_before_delivery(got));
  EXPECT_EQ(error_of(got.front()), "frame authentication failed");
}

TEST(FrameAttack, DroppedFramesAreNoticedAtTheNextOne) {
  Wire w;
  w.frame();  // lost on the path
  auto f2 = w.frame();
  auto opener = w.fresh_opener();
  EXPECT_EQ(error_of(test::open_one(opener, f2)), "frame authentication failed");
}

TEST(FrameAttack, ReflectingAFrameBackToItsSenderIsRefused) {
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  auto dialler = CaptpHandshake::initiator(alice, bob.id());
  auto listener = CaptpHandshake::responder(bob);
  ASSERT_TRUE(listener.read_message(dialler.write_message()));
  ASSERT_TRUE(dialler.read_message(listener.write_message()));
  ASSERT_TRUE(listener.read_message(dialler.write_message()));
  auto a = dialler.finish();
  Bytes f;
  FrameSealer(std::move(a.send)).seal(FrameKind::data, Bytes{1}, f);
  FrameOpener own(std::move(a.receive));  // alice's opener for bob's frames
  EXPECT_EQ(error_of(test::open_one(own, f)), "frame authentication failed");
}

TEST(FrameAttack, EveryBitFlipInTheLengthPrefixIsRefused) {
  Wire w;
  auto f1 = w.frame();
  auto f2 = w.frame(100);
  const Bytes stream = concat(f1, f2);
  for (std::size_t bit = 0; bit < 32; ++bit) {
    Bytes bad = stream;
    bad[bit / 8] ^= static_cast<uint8_t>(0x80u >> (bit % 8));
    auto opener = w.fresh_opener();
    auto got = test::drain(opener, bad);
    EXPECT_TRUE(refused_before_delivery(got)) << "bit " << bit;
  }
}

TEST(FrameAttack, EveryBitFlipInTheCiphertextAndTagIsRefused) {
  Wire w;
  const auto f = w.frame();
  for (std::size_t bit = 4 * 8; bit < f.size() * 8; ++bit) {
    Bytes bad = f;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto opener = w.fresh_opener();
    EXPECT_EQ(error_of(test::open_one(opener, bad)), "frame authentication failed") << "bit " << bit;
  }
}

TEST(FrameAttack, OversizedLengthsAreRefusedBeforeAnyBufferIsNeeded) {
  Wire w;
  auto opener = w.fresh_opener();
  for (uint32_t L : {kDefaultMaxFrame + 1, 0x7fffffffu, 0xffffffffu}) {
    EXPECT_FALSE(opener.check_length(L)) << L;
  }
  // Even a caller that skips check_length gets a refusal, and the opener reads
  // none of the (tiny) buffer: ASan builds would flag any access past it.
  uint8_t prefix[4];
  encode_frame_length(0xffffffffu, prefix);
  uint8_t tiny[4] = {};
  auto r = opener.open_in_place(prefix, tiny, 0xffffffffu);
  EXPECT_EQ(r.error(), "frame length 4294967295 exceeds the maximum of 16777216 bytes");
  EXPECT_TRUE(opener.dead());
}

TEST(FrameAttack, ZeroLengthFramesAreRefused) {
  Wire w;
  auto opener = w.fresh_opener();
  EXPECT_EQ(opener.check_length(0).error(), "frame length 0 is below the minimum of 24 bytes");
  const uint8_t prefix[4] = {0, 0, 0, 0};
  uint8_t none[1] = {};
  auto r = opener.open_in_place(prefix, none, 0);
  EXPECT_EQ(r.error(), "frame length 0 is below the minimum of 24 bytes");
}

TEST(FrameAttack, LengthsOneToTwentyThreeAreRefused) {
  Wire w;
  for (uint32_t L = 1; L < kMinFrame; ++L) {
    auto opener = w.fresh_opener();
    EXPECT_FALSE(opener.check_length(L)) << L;
    Bytes frame(4 + L, 0);
    encode_frame_length(L, frame.data());
    EXPECT_EQ(error_of(test::open_one(opener, frame)),
              "frame length " + std::to_string(L) + " is below the minimum of 24 bytes");
    // A tag-sized record that would authenticate an empty plaintext is still too short for a header.
    auto direct = w.fresh_opener();
    auto r = direct.open_in_place(frame.data(), frame.data() + 4, L);
    EXPECT_FALSE(r) << L;
  }
}

TEST(FrameAttack, AKeyHolderCannotSendNonzeroReservedHeaderBytes) {
  for (std::size_t i = 1; i < kFrameHeaderBytes; ++i) {
    for (uint8_t v : {uint8_t{1}, uint8_t{0x80}, uint8_t{0xff}}) {
      auto key = test::random_secret<32>();
      CipherState rogue(key.copy());
      FrameOpener opener(CipherState(key.copy()));
      Bytes plaintext = {1, 0, 0, 0, 0, 0, 0, 0, 'h', 'i'};
      plaintext[i] = v;
      EXPECT_EQ(error_of(test::open_one(opener, test::rogue_frame(rogue, plaintext))), "nonzero reserved header bytes")
          << i;
    }
  }
}

TEST(FrameAttack, AKeyHolderCannotSendUnknownKindsOrOversizedCloses) {
  for (int kind = 0; kind < 256; ++kind) {
    if (kind >= 1 && kind <= 3) continue;
    auto key = test::random_secret<32>();
    CipherState rogue(key.copy());
    FrameOpener opener(CipherState(key.copy()));
    Bytes plaintext = {static_cast<uint8_t>(kind), 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(error_of(test::open_one(opener, test::rogue_frame(rogue, plaintext))),
              "unknown frame kind " + std::to_string(kind));
  }
  auto key = test::random_secret<32>();
  CipherState rogue(key.copy());
  FrameOpener opener(CipherState(key.copy()));
  Bytes close = {2, 0, 0, 0, 0, 0, 0, 0};
  close.resize(8 + 100000, 'a');
  EXPECT_EQ(error_of(test::open_one(opener, test::rogue_frame(rogue, close))), "close reason longer than 256 bytes");
}

TEST(FrameAttack, AfterAnyRefusalTheOpenerAcceptsNothingMore) {
  Wire w;
  auto f1 = w.frame();
  auto f2 = w.frame();
  auto opener = w.fresh_opener();
  Bytes bad = f1;
  bad.back() ^= 1;
  EXPECT_TRUE(is_error(test::open_one(opener, bad)));
  // Even the genuine frame 1, then frame 2, are refused now.
  EXPECT_TRUE(is_error(test::open_one(opener, f1)));
  EXPECT_TRUE(is_error(test::open_one(opener, f2)));
  EXPECT_TRUE(opener.dead());
}

}  // namespace
}  // namespace vatic::captp
