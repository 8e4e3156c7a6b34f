#include "captp/protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

// spec/handshake.md "Version and features": the negotiation each side runs on
// the two hellos once the handshake is complete.
namespace vatic::captp {
namespace {

Hello hello(std::uint16_t major, std::uint16_t minor, FeatureSet features) { return Hello{{major, minor}, features}; }

TEST(Protocol, TheHelloIsBigEndianMajorMinorFeatures) {
  auto bytes = hello(0x0102, 0x0304, 0x0a0b0c0d0e0f1011).encode();
  EXPECT_EQ(bytes, (std::array<std::uint8_t, kHelloBytes>{1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11}));
  EXPECT_EQ(Hello::decode(bytes), hello(0x0102, 0x0304, 0x0a0b0c0d0e0f1011));
}

TEST(Protocol, ThisVersionSpeaksOneZeroAndOffersCancelOnly) {
  EXPECT_EQ(kProtocolVersion, (ProtocolVersion{1, 0}));
  EXPECT_EQ(Hello{}.features, feature_bit(Feature::cancel));
  EXPECT_EQ(feature_bit(Feature::handoff), 2u) << "bit 1 stays reserved for three-party handoff";
}

TEST(Protocol, SameMajorOtherMinorsSpeakTheLowerMinor) {
  auto older = negotiate(hello(1, 3, 0), hello(1, 1, 0));
  ASSERT_TRUE(older) << older.error();
  EXPECT_EQ(older->version, (ProtocolVersion{1, 1}));
  auto newer = negotiate(hello(1, 1, 0), hello(1, 7, 0));
  ASSERT_TRUE(newer) << newer.error();
  EXPECT_EQ(newer->version, (ProtocolVersion{1, 1}));
}

TEST(Protocol, TheSessionUsesTheFeaturesBothOffer) {
  FeatureSet both = feature_bit(Feature::cancel) | feature_bit(Feature::handoff);
  auto n = negotiate(hello(1, 0, both), hello(1, 0, feature_bit(Feature::handoff)));
  ASSERT_TRUE(n) << n.error();
  EXPECT_FALSE(n->has(Feature::cancel)) << "only we offered it";
  EXPECT_TRUE(n->has(Feature::handoff));
  EXPECT_EQ(n->feature_names(), std::vector<std::string>{"handoff"});
  auto none = negotiate(hello(1, 0, feature_bit(Feature::cancel)), hello(1, 0, 0));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->features, 0u);
  EXPECT_TRUE(none->feature_names().empty());
}

TEST(Protocol, FeatureBitsThisVersionDoesNotKnowAreIgnored) {
  // A later minor offering bits 2..63, even all of them: accepted, and none of
  // them is in use, even if we (wrongly) offered them too.
  auto n = negotiate(hello(1, 0, ~FeatureSet{0}), hello(1, 9, ~FeatureSet{0}));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(n->features, feature_bit(Feature::cancel) | feature_bit(Feature::handoff));
  auto ours = negotiate(Hello{}, hello(1, 9, ~FeatureSet{0} << 2 | feature_bit(Feature::cancel)));
  ASSERT_TRUE(ours) << ours.error();
  EXPECT_EQ(ours->feature_names(), std::vector<std::string>{"cancel"});
}

TEST(Protocol, AnotherMajorIsRefusedNamingBothVersions) {
  auto n = negotiate(hello(1, 0, 1), hello(2, 3, 1));
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().find("this vat speaks vatic CapTP 1.0, the peer speaks 2.3"), std::string::npos) << n.error();
  EXPECT_FALSE(negotiate(hello(2, 0, 1), hello(1, 0, 1)));
}

TEST(Protocol, MajorZeroIsAMalformedHello) {
  auto n = negotiate(Hello{}, hello(0, 5, 1));
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().find("malformed hello"), std::string::npos) << n.error();
}

}  // namespace
}  // namespace vatic::captp
