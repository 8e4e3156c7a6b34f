// CaptpHandshake: how vatic instantiates Noise XK between two vats
// (spec/handshake.md). It fixes what NoiseXK leaves open: the prologue binds
// the protocol version and the dialled vat id; the responder's static key is
// the X25519 image of that vat id, so a vat id is all a dialler needs to know;
// message sizes are fixed (48, 48, 96 bytes), so no length prefix is needed;
// and message 3 carries the initiator's vat id, which the responder accepts
// only if it maps to the static key the initiator just proved it holds.
//
// It is a pure state machine over byte messages: the stream code owns the
// socket, the deadline and the object, on one strand; not thread-safe.
// Peer errors come back as reason strings, never throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "captp/identity.h"
#include "captp/internal/crypto/noise.h"
#include "vat/result.h"

namespace vatic::captp {

inline constexpr std::string_view kProloguePrefix = "vatic-captp/1";
inline constexpr std::size_t kHandshakeMessage1Bytes = 32 + kNoiseTagBytes;                // e, empty payload
inline constexpr std::size_t kHandshakeMessage2Bytes = 32 + kNoiseTagBytes;                // e, empty payload
inline constexpr std::size_t kHandshakeMessage3Bytes = 48 + kVatIdBytes + kNoiseTagBytes;  // s, vat id

// ASCII "vatic-captp/1" || the responder's 32-byte Ed25519 vat id.
std::vector<uint8_t> captp_prologue(const VatId& responder);

class CaptpHandshake {
 public:
  // Dials `responder`: the handshake fails unless the peer holds its key.
  static CaptpHandshake initiator(const Identity& self, const VatId& responder);
  // Accepts any initiator; `finish().peer` says who it was.
  static CaptpHandshake responder(const Identity& self);

  bool my_turn_to_write() const { return noise_.my_turn_to_write(); }
  // The exact size of the message to read next (0 when none is expected).
  std::size_t next_read_size() const;

  // The next message to send; throws VatError when it is not our turn.
  std::vector<uint8_t> write_message();
  // Consumes the peer's next message, or refuses it with the reason. After a
  // refusal the handshake is dead and every later read is refused.
  Result<void> read_message(std::span<const uint8_t> message);

  bool complete() const { return noise_.complete() && peer_.has_value(); }
  bool failed() const { return !error_.empty(); }

  struct Established {
    VatId peer;                              // authenticated
    CipherState send;                        // our direction's key
    CipherState receive;                     // the peer's direction's key
    std::array<uint8_t, 32> handshake_hash;  // channel binding, equal on both ends
  };
  // Once, after complete(); throws VatError otherwise.
  Established finish();

 private:
  CaptpHandshake(NoiseXK noise, const VatId& self, std::optional<VatId> peer)
      : noise_(std::move(noise)), self_(self), peer_(std::move(peer)) {}
  Refusal fail(std::string reason);

  NoiseXK noise_;
  VatId self_;
  std::optional<VatId> peer_;  // initiator: from the start; responder: after message 3
  std::string error_;
};

}  // namespace vatic::captp
