// What the libFuzzer targets and their seed generator (make_seeds.cpp) agree
// on: fixed keys and identities (so a seed written once stays valid for its
// target), and the input formats. Every target reads its input as
//   byte 0: mode (taken modulo the number of modes), then the mode's bytes,
// and most modes read a sequence of chunks, each a u16 little-endian length
// and that many bytes (a missing or short tail ends the sequence).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "captp/identity.h"
#include "vat/error.h"
#include "vat/secret.h"

namespace vatic::fuzz {

using Bytes = std::vector<std::uint8_t>;

// A key made of one repeated byte: fine for fuzzing, where keys are public.
inline Secret<32> fixed_key(std::uint8_t tag) {
  std::array<std::uint8_t, 32> b{};
  b.fill(tag);
  return Secret<32>::from(b);
}
// The first seed from `tag` up (last byte counting on) whose key is a vat id:
// half of all keys have the sign bit set and are not (spec/handshake.md).
inline captp::Identity fixed_identity(std::uint8_t tag) {
  std::array<std::uint8_t, 32> b{};
  b.fill(tag);
  for (;;) {
    try {
      return captp::Identity::from_seed(Secret<32>::from(b));
    } catch (const vatic::VatError&) {
      ++b[31];
    }
  }
}

// Keys and identities per target.
inline constexpr std::uint8_t kFrameKey = 0x11;
inline constexpr std::uint64_t kFrameRekeyEvery = 3;  // small, so that seeds cross a rekey
inline constexpr std::uint8_t kInitiatorSeed = 0x21, kResponderSeed = 0x22;
inline constexpr std::uint8_t kInitiatorEphemeral = 0x23, kResponderEphemeral = 0x24;
inline constexpr std::uint8_t kSessionKeyIn = 0x31, kSessionKeyOut = 0x32;  // mallory -> victim, victim -> mallory
inline constexpr std::uint8_t kMalloryIdentity = 0x33;

// fuzz_frame modes.
enum FrameMode : std::uint8_t { kRawStream = 0, kRecords = 1, kTampered = 2, kUtf8 = 3, kFrameModes = 4 };
// fuzz_handshake modes: which message the fuzzer's bytes replace (XORed onto
// the genuine one, so that zeros make the genuine message), and whose code reads it.
enum HandshakeMode : std::uint8_t {
  kNoiseMsg1 = 0,  // NoiseXK responder reads message 1
  kNoiseMsg2 = 1,  // NoiseXK initiator reads message 2
  kNoiseMsg3 = 2,  // NoiseXK responder reads message 3
  kCaptpMsg1 = 3,  // CaptpHandshake, the same three
  kCaptpMsg2 = 4,
  kCaptpMsg3 = 5,
  kHandshakeModes = 6,
};
// fuzz_session has one mode: every chunk is the payload of one data frame.

class Chunks {
 public:
  explicit Chunks(std::span<const std::uint8_t> in) : in_(in) {}
  std::optional<std::span<const std::uint8_t>> next() {
    if (in_.size() < 2) return std::nullopt;
    std::size_t n = in_[0] | (std::size_t{in_[1]} << 8);
    in_ = in_.subspan(2);
    n = std::min(n, in_.size());
    auto out = in_.first(n);
    in_ = in_.subspan(n);
    return out;
  }
  std::span<const std::uint8_t> rest() const { return in_; }

 private:
  std::span<const std::uint8_t> in_;
};

inline void put_chunk(Bytes& out, std::span<const std::uint8_t> chunk) {
  out.push_back(static_cast<std::uint8_t>(chunk.size()));
  out.push_back(static_cast<std::uint8_t>(chunk.size() >> 8));
  out.insert(out.end(), chunk.begin(), chunk.end());
}

// The genuine message with the fuzzer's bytes XORed on: equal length and all
// zeros give the genuine message; anything else is a forgery to refuse.
inline Bytes xor_onto(std::span<const std::uint8_t> genuine, std::span<const std::uint8_t> mask) {
  Bytes out(mask.begin(), mask.end());
  for (std::size_t i = 0; i < out.size() && i < genuine.size(); ++i) out[i] ^= genuine[i];
  return out;
}
inline bool is_identity_mask(std::span<const std::uint8_t> genuine, std::span<const std::uint8_t> mask) {
  if (mask.size() != genuine.size()) return false;
  for (auto b : mask)
    if (b != 0) return false;
  return true;
}

}  // namespace vatic::fuzz
