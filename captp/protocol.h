// ProtocolVersion and features: what a CapTP session agreed to speak. Each
// side states its protocol version (major.minor) and the optional features it
// offers in its handshake payload (spec/handshake.md, "Version and
// features"); a session runs at the lower minor of one major and uses only
// the features both sides offer. A different major is refused with a reason
// naming both versions; feature bits a side does not know are ignored, which
// is what lets a later minor (three-party handoff, issue 14) add operations
// without breaking a peer of this version.
//
// Plain values: any thread may copy them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vat/result.h"

namespace vatic::captp {

struct ProtocolVersion {
  std::uint16_t major = 0;
  std::uint16_t minor = 0;
  friend bool operator==(const ProtocolVersion&, const ProtocolVersion&) = default;
  std::string to_string() const;  // "1.0"
};

// One bit of the 64-bit feature set each (bit n is 1 << n). Names are the
// ones spec/handshake.md and the admin records use.
enum class Feature : unsigned {
  // A Finish for a question still unanswered means that nobody wants the
  // answer (the caller dropped its promise and every pipelined use): the
  // callee may stop the call (vat/cancel.h).
  cancel = 0,
  // Three-party handoff (spec/captp.md 11), introduced by version 1.1; offered
  // unless the node is configured without it (SessionOptions::handoff).
  handoff = 1,
};
using FeatureSet = std::uint64_t;
constexpr FeatureSet feature_bit(Feature f) { return FeatureSet{1} << static_cast<unsigned>(f); }

// What this version speaks and offers.
inline constexpr ProtocolVersion kProtocolVersion{1, 0};
inline constexpr FeatureSet kOfferedFeatures = feature_bit(Feature::cancel);

// The version that introduced handoff: a hello that offers it states 1.1.
inline constexpr ProtocolVersion kHandoffVersion{1, 1};

// The hello each side puts in its handshake payload: major (u16 BE) ||
// minor (u16 BE) || features (u64 BE).
inline constexpr std::size_t kHelloBytes = 12;
struct Hello {
  ProtocolVersion version = kProtocolVersion;
  FeatureSet features = kOfferedFeatures;
  friend bool operator==(const Hello&, const Hello&) = default;
  std::array<std::uint8_t, kHelloBytes> encode() const;
  // Any 12 bytes decode; whether they make sense is negotiate()'s question.
  static Hello decode(std::span<const std::uint8_t, kHelloBytes> bytes);
  // What a vat states: this version and its features, plus `handoff` (and
  // version 1.1) when `handoff` is set.
  static Hello offered(bool handoff);
};

// What a session runs with.
struct Negotiated {
  ProtocolVersion version = kProtocolVersion;
  FeatureSet features = 0;
  bool has(Feature f) const { return (features & feature_bit(f)) != 0; }
  // The names of the features in use, lowest bit first ("cancel").
  std::vector<std::string> feature_names() const;
};

// spec/handshake.md "Version and features": the same major, the lower minor,
// the features both offer (restricted to the ones this version knows). Refused
// for a malformed hello (major 0) or another major, with a reason naming both
// versions.
Result<Negotiated> negotiate(const Hello& ours, const Hello& theirs);

}  // namespace vatic::captp
