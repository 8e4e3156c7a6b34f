// Frames: the transport records of a CapTP connection after the handshake.
// Each frame is one length-prefixed ChaCha20-Poly1305 record whose length is
// authenticated too, so a peer (or anyone on the path) can neither cut,
// splice, replay, reorder nor resize frames without the receiver noticing: the
// per-direction nonce counter makes every frame valid in one place only.
//
// Wire (spec/handshake.md, "Frames"):
//   u32 big-endian L | L bytes = ChaCha20-Poly1305(key, nonce, ad = the 4 length bytes,
//                                                  8-byte header || payload) incl. 16-byte tag
//   header: byte 0 = kind (1 data, 2 close, 3 ping), bytes 1..7 zero.
// The 8-byte header keeps the payload 8-byte aligned for Cap'n Proto.
//
// A FrameSealer and a FrameOpener each own one direction's CipherState and
// belong to the one strand that writes (resp. reads) the stream; neither is
// thread-safe. Errors from the peer come back as refusals (vat/result.h), never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "captp/internal/crypto/noise.h"
#include "captp/options.h"  // kDefaultMaxFrame, kDefaultRekeyEvery
#include "vat/result.h"

namespace vatic::captp {

enum class FrameKind : uint8_t { data = 1, close = 2, ping = 3 };

inline constexpr std::size_t kFrameLengthBytes = 4;
inline constexpr std::size_t kFrameHeaderBytes = 8;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::size_t kMinFrame = kFrameHeaderBytes + kTagBytes;  // smallest valid L
inline constexpr std::size_t kMaxCloseReason = 256;                      // bytes of UTF-8

static_assert(kTagBytes == kNoiseTagBytes);

class FrameSealer {
 public:
  // Throws VatError if `cs` has no key or rekey_every is 0.
  explicit FrameSealer(CipherState cs, uint64_t rekey_every = kDefaultRekeyEvery);

  // Appends one whole frame to `out`. `payload` must not point into `out`.
  // Throws VatError on a caller bug: frame larger than kDefaultMaxFrame, a close
  // reason over 256 bytes or not UTF-8, a ping with a payload, an unknown kind.
  void seal(FrameKind kind, std::span<const uint8_t> payload, std::vector<uint8_t>& out);

  // Zero-copy variant: the caller reserved buf[frame_start, frame_start + 12)
  // for length and header and wrote the payload after them, up to buf.size().
  // Fills length and header, encrypts in place and appends the tag.
  void seal_in_place(FrameKind kind, std::vector<uint8_t>& buf, std::size_t frame_start);
  // The same inside a buffer that already holds the whole frame: 12 bytes for
  // length and header, the payload, then 16 bytes for the tag (their content
  // is overwritten). Lets a sender lay out several frames before sealing them.
  void seal_frame(FrameKind kind, std::span<uint8_t> frame);

  uint64_t frames_sealed() const { return frames_; }

 private:
  CipherState cs_;
  uint64_t rekey_every_;
  uint64_t frames_ = 0;
};

class FrameOpener {
 public:
  struct Opened {
    FrameKind kind;
    std::size_t payload_offset;  // from the start of the ciphertext (always kFrameHeaderBytes)
    std::size_t payload_size;
  };

  // Throws VatError if `cs` has no key, max_frame < kMinFrame or rekey_every is 0.
  explicit FrameOpener(CipherState cs, uint32_t max_frame = kDefaultMaxFrame,
                       uint64_t rekey_every = kDefaultRekeyEvery);

  // Call on the length prefix BEFORE allocating L bytes: refused if L is out
  // of bounds (the connection must then be dropped).
  Result<void> check_length(uint32_t L) const;

  // Authenticates and decrypts the L bytes at `ciphertext` in place (so a
  // buffer that is 8-byte aligned yields an aligned payload at ciphertext + 8).
  // On any error the refusal says why and the opener is dead: every later
  // call is refused too.
  Result<Opened> open_in_place(const uint8_t length_be[kFrameLengthBytes], uint8_t* ciphertext, std::size_t L);

  bool dead() const { return !error_.empty(); }
  uint64_t frames_opened() const { return frames_; }

 private:
  Refusal fail(std::string reason);

  CipherState cs_;
  uint32_t max_frame_;
  uint64_t rekey_every_;
  uint64_t frames_ = 0;
  std::string error_;  // the first error; non-empty once dead
};

// Big-endian length prefix helpers, shared with the stream code.
inline uint32_t decode_frame_length(const uint8_t b[kFrameLengthBytes]) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}
inline void encode_frame_length(uint32_t L, uint8_t b[kFrameLengthBytes]) {
  b[0] = static_cast<uint8_t>(L >> 24);
  b[1] = static_cast<uint8_t>(L >> 16);
  b[2] = static_cast<uint8_t>(L >> 8);
  b[3] = static_cast<uint8_t>(L);
}

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF):
// vatic::utf8::is_valid, named here for the frame rules that use it.
bool is_valid_utf8(std::span<const uint8_t> bytes);

}  // namespace vatic::captp
