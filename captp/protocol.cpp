#include "captp/protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace vatic::captp {

namespace {

// The features this version knows by name, by bit.
constexpr const char* kFeatureNames[] = {"cancel", "handoff"};
constexpr FeatureSet kKnownFeatures = feature_bit(Feature::cancel) | feature_bit(Feature::handoff);

void put_be(std::uint8_t* out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) out[i] = static_cast<std::uint8_t>(v);
}
std::uint64_t get_be(const std::uint8_t* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[i];
  return v;
}

}  // namespace

std::string ProtocolVersion::to_string() const { return fmt::format("{}.{}", major, minor); }

std::array<std::uint8_t, kHelloBytes> Hello::encode() const {
  std::array<std::uint8_t, kHelloBytes> out{};
  put_be(out.data(), version.major, 2);
  put_be(out.data() + 2, version.minor, 2);
  put_be(out.data() + 4, features, 8);
  return out;
}

Hello Hello::decode(std::span<const std::uint8_t, kHelloBytes> in) {
  Hello h;
  h.version.major = static_cast<std::uint16_t>(get_be(in.data(), 2));
  h.version.minor = static_cast<std::uint16_t>(get_be(in.data() + 2, 2));
  h.features = get_be(in.data() + 4, 8);
  return h;
}

Hello Hello::offered(bool handoff) {
  if (!handoff) return Hello{};
  return Hello{kHandoffVersion, kOfferedFeatures | feature_bit(Feature::handoff)};
}

std::vector<std::string> Negotiated::feature_names() const {
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < std::size(kFeatureNames); ++bit)
    if (features & (FeatureSet{1} << bit)) out.emplace_back(kFeatureNames[bit]);
  return out;
}

Result<Negotiated> negotiate(const Hello& ours, const Hello& theirs) {
  // handshake.md "Version and features", step 1: major 0 is no version.
  if (theirs.version.major == 0)
    return refuse(fmt::format("malformed hello: the peer states protocol version {} (major 0 is not a version)",
                              theirs.version.to_string()));
  // Step 2: one major or nothing; the reason names both versions.
  if (theirs.version.major != ours.version.major) {
    return refuse(fmt::format(
        "protocol version mismatch: this vat speaks vatic CapTP {}, the peer speaks {} (majors differ, so neither "
        "can understand the other)",
        ours.version.to_string(), theirs.version.to_string()));
  }
  // Steps 3 and 4: the lower minor; the features both offer, of those this
  // version knows (a bit it does not know names nothing it could use).
  Negotiated n;
  n.version = ProtocolVersion{ours.version.major, std::min(ours.version.minor, theirs.version.minor)};
  n.features = ours.features & theirs.features & kKnownFeatures;
  return n;
}

}  // namespace vatic::captp
