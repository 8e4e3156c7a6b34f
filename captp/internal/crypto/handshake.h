// CaptpHandshake: how vatic instantiates Noise XK between two vats
// (spec/handshake.md). It fixes what NoiseXK leaves open: the prologue binds
// the protocol version and the dialled vat id; the responder's static key is
// the X25519 image of that vat id, so a vat id is all a dialler needs to know;
// message sizes are fixed (48, 76, 124 bytes), so no length prefix is needed;
// message 2 carries the responder's instance id and hello (protocol version
// and features, captp/protocol.h); and message 3 carries the initiator's vat
// id, which the responder accepts only if it maps to the static key the
// initiator just proved it holds, its instance id and its hello. Whether the
// two hellos agree is negotiate()'s question, asked once the handshake is
// complete (the channel then refuses with a reason).
//
// It is a pure state machine over byte messages: the stream code owns the
// socket, the deadline and the object, on one strand; not thread-safe.
// Peer errors come back as reason strings, never throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "captp/identity.h"
#include "captp/internal/crypto/noise.h"
#include "captp/internal/crypto/peer_keys.h"
#include "captp/protocol.h"
#include "vat/result.h"

namespace vatic::captp {

// The handshake's layout (not the protocol version, which the hellos state):
// /3 added the hellos; /2 added the instance ids; /1 had messages of 48, 48
// and 96 bytes. Another layout fails message 1.
inline constexpr std::string_view kProloguePrefix = "vatic-captp/3";
inline constexpr std::size_t kHandshakeMessage1Bytes = 32 + kNoiseTagBytes;  // e, empty payload
inline constexpr std::size_t kHandshakeMessage2Bytes =
    32 + kInstanceIdBytes + kHelloBytes + kNoiseTagBytes;  // e, instance || hello
inline constexpr std::size_t kHandshakeMessage3Bytes =
    48 + kVatIdBytes + kInstanceIdBytes + kHelloBytes + kNoiseTagBytes;  // s, vat id || instance || hello

// ASCII "vatic-captp/3" || the responder's 32-byte Ed25519 vat id.
std::vector<uint8_t> captp_prologue(const VatId& responder);

class CaptpHandshake {
 public:
  // Dials `responder`: the handshake fails unless the peer holds its key.
  // `instance` is the running Node's (a fresh one stands for a lone channel);
  // `hello` is what we state (another one only in tests of negotiation).
  static CaptpHandshake initiator(const Identity& self, const VatId& responder,
                                  const InstanceId& instance = InstanceId::generate(), const Hello& hello = {});
  // Accepts any initiator; `finish().peer` says who it was.
  static CaptpHandshake responder(const Identity& self, const InstanceId& instance = InstanceId::generate(),
                                  const Hello& hello = {});

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
    Hello peer_hello;                        // what the peer states (authenticated, not yet negotiated)
    Hello own_hello;                         // what we stated
    CipherState send;                        // our direction's key
    CipherState receive;                     // the peer's direction's key
    std::array<uint8_t, 32> handshake_hash;  // channel binding, equal on both ends
  };
  // Once, after complete(); throws VatError otherwise.
  Established finish();

 private:
  CaptpHandshake(NoiseXK noise, const Identity& self, const InstanceId& instance, const Hello& hello,
                 std::optional<VatId> peer)
      : noise_(std::move(noise)),
        self_(self.id()),
        peer_keys_(self.peer_keys()),
        instance_(instance),
        hello_(hello),
        peer_(std::move(peer)) {}
  Refusal fail(std::string reason);

  NoiseXK noise_;
  VatId self_;
  std::shared_ptr<PeerKeys> peer_keys_;  // the identity's: message 3's vat id is looked up there
  InstanceId instance_;
  Hello hello_;
  std::optional<VatId> peer_;  // initiator: from the start; responder: after message 3
  InstanceId peer_instance_;   // after message 2 (initiator) or 3 (responder)
  Hello peer_hello_;           // with peer_instance_
  bool peer_instance_known_ = false;
  std::string error_;
};

}  // namespace vatic::captp
