// CaptpHandshake: how vatic instantiates Noise XK between two vats
// (spec/handshake.md). It fixes what NoiseXK leaves open: the prologue binds
// the protocol version and the dialled vat id; the responder's static key is
// the X25519 image of that vat id, so a vat id is all a dialler needs to know;
// message sizes are fixed (48, 64, 112 bytes), so no length prefix is needed;
// message 2 carries the responder's instance id; and message 3 carries the
// initiator's vat id, which the responder accepts only if it maps to the
// static key the initiator just proved it holds, and its instance id.
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

// Version 2: messages 2 and 3 carry instance ids (version 1 had no payload in
// message 2 and only the vat id in message 3).
inline constexpr std::string_view kProloguePrefix = "vatic-captp/2";
inline constexpr std::size_t kHandshakeMessage1Bytes = 32 + kNoiseTagBytes;                     // e, empty payload
inline constexpr std::size_t kHandshakeMessage2Bytes = 32 + kInstanceIdBytes + kNoiseTagBytes;  // e, instance
inline constexpr std::size_t kHandshakeMessage3Bytes =
    48 + kVatIdBytes + kInstanceIdBytes + kNoiseTagBytes;  // s, vat id || instance

// ASCII "vatic-captp/2" || the responder's 32-byte Ed25519 vat id.
std::vector<uint8_t> captp_prologue(const VatId& responder);

class CaptpHandshake {
 public:
  // Dials `responder`: the handshake fails unless the peer holds its key.
  // `instance` is the running Node's (a fresh one stands for a lone channel).
  static CaptpHandshake initiator(const Identity& self, const VatId& responder,
                                  const InstanceId& instance = InstanceId::generate());
  // Accepts any initiator; `finish().peer` says who it was.
  static CaptpHandshake responder(const Identity& self, const InstanceId& instance = InstanceId::generate());

  bool my_turn_to_write() const { return noise_.my_turn_to_write(); }
  // The exact size of the message to read next (0 when none is expected).
  std::size_t next_read_size() const;

  // The next message to send; throws VatError when it is not our turn.
  std::vector<uint8_t> write_message();
  // Consumes the peer's next message, or refuses it with the reason. After a
  // refusal the handshake is dead and every later read is refused.
  Result<void> read_message(std::span<const uint8_t> message);

  bool complete() const { return noise_.complete() && peer_.has_value() && peer_instance_known_; }
  bool failed() const { return !error_.empty(); }

  struct Established {
    VatId peer;                              // authenticated
    InstanceId peer_instance;                // which of the peer's running Nodes (authenticated)
    CipherState send;                        // our direction's key
    CipherState receive;                     // the peer's direction's key
    std::array<uint8_t, 32> handshake_hash;  // channel binding, equal on both ends
  };
  // Once, after complete(); throws VatError otherwise.
  Established finish();

 private:
  CaptpHandshake(NoiseXK noise, const VatId& self, const InstanceId& instance, std::optional<VatId> peer)
      : noise_(std::move(noise)), self_(self), instance_(instance), peer_(std::move(peer)) {}
  Refusal fail(std::string reason);

  NoiseXK noise_;
  VatId self_;
  InstanceId instance_;
  std::optional<VatId> peer_;  // initiator: from the start; responder: after message 3
  InstanceId peer_instance_;   // after message 2 (initiator) or 3 (responder)
  bool peer_instance_known_ = false;
  std::string error_;
};

}  // namespace vatic::captp
