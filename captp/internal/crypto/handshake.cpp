#include "captp/internal/crypto/handshake.h"

#include <algorithm>

#include "vat/error.h"

namespace vatic::captp {

std::vector<uint8_t> captp_prologue(const VatId& responder) {
  std::vector<uint8_t> p(kProloguePrefix.begin(), kProloguePrefix.end());
  p.insert(p.end(), responder.bytes().begin(), responder.bytes().end());
  return p;
}

CaptpHandshake CaptpHandshake::initiator(const Identity& self, const VatId& responder, const InstanceId& instance,
                                         const Hello& hello) {
  // handshake.md: the responder's static key is the X25519 image of the
  // dialled vat id (converted once per peer: PeerKeys).
  auto rs = self.peer_keys()->dialled(responder);
  // A VatId only exists after its key passed the same conversion.
  if (!rs) throw_error(ErrorKind::failed, "CaptpHandshake: dialled vat id has no X25519 key (invariant)");
  auto noise = NoiseXK::initiator(self.x25519_secret(), self.x25519_public(), captp_prologue(responder), *rs);
  return CaptpHandshake(std::move(noise), self, instance, hello, responder);
}

CaptpHandshake CaptpHandshake::responder(const Identity& self, const InstanceId& instance, const Hello& hello) {
  auto noise = NoiseXK::responder(self.x25519_secret(), self.x25519_public(), captp_prologue(self.id()));
  return CaptpHandshake(std::move(noise), self, instance, hello, std::nullopt);
}

std::size_t CaptpHandshake::next_read_size() const {
  if (failed() || noise_.failed() || noise_.complete() || noise_.my_turn_to_write()) return 0;
  switch (noise_.messages_done()) {
    case 0: return kHandshakeMessage1Bytes;
    case 1: return kHandshakeMessage2Bytes;
    default: return kHandshakeMessage3Bytes;
  }
}

Refusal CaptpHandshake::fail(std::string reason) {
  if (error_.empty()) error_ = reason;
  return refuse(std::move(reason));
}

std::vector<uint8_t> CaptpHandshake::write_message() {
  if (failed()) throw_error(ErrorKind::failed, "CaptpHandshake misuse: write_message after failure: " + error_);
  switch (noise_.messages_done()) {
    case 0: return noise_.write_message({});  // handshake.md message 1: empty payload
    case 1: {
      // handshake.md message 2: our instance || our hello.
      std::array<uint8_t, kInstanceIdBytes + kHelloBytes> payload{};
      auto hello = hello_.encode();
      std::copy(instance_.bytes.begin(), instance_.bytes.end(), payload.begin());
      std::copy(hello.begin(), hello.end(), payload.begin() + kInstanceIdBytes);
      return noise_.write_message(payload);
    }
    default: {
      // handshake.md message 3: our vat id (bound to s by the responder) ||
      // our instance || our hello.
      std::array<uint8_t, kVatIdBytes + kInstanceIdBytes + kHelloBytes> payload{};
      auto hello = hello_.encode();
      std::copy(self_.bytes().begin(), self_.bytes().end(), payload.begin());
      std::copy(instance_.bytes.begin(), instance_.bytes.end(), payload.begin() + kVatIdBytes);
      std::copy(hello.begin(), hello.end(), payload.begin() + kVatIdBytes + kInstanceIdBytes);
      return noise_.write_message(payload);
    }
  }
}

Result<void> CaptpHandshake::read_message(std::span<const uint8_t> message) {
  if (failed()) return refuse("handshake already failed: " + error_);
  const std::size_t expected = next_read_size();
  if (expected == 0) throw_error(ErrorKind::failed, "CaptpHandshake misuse: read_message when no message is due");
  const int index = noise_.messages_done() + 1;
  // Sizes are fixed, so a wrong size is refused before any cryptography.
  if (message.size() != expected) {
    return fail("handshake message " + std::to_string(index) + " must be " + std::to_string(expected) + " bytes, got " +
                std::to_string(message.size()));
  }
  auto payload = noise_.read_message(message);
  if (!payload) {
    // Message 1 failing usually means the initiator dialled another vat id
    // (wrong responder key or prologue); otherwise the message was altered.
    return fail("handshake message " + std::to_string(index) + " failed authentication");
  }
  if (index == 1) return {};  // the size already implies an empty payload
  // The sizes fix the payloads' sizes too: 28 bytes in message 2, 60 in 3,
  // each ending with instance (16) || hello (12). Any hello decodes here;
  // negotiate() judges it once the handshake is complete.
  const uint8_t* tail = payload->data() + payload->size() - kInstanceIdBytes - kHelloBytes;
  std::span<const uint8_t> instance(tail, kInstanceIdBytes);
  peer_hello_ = Hello::decode(std::span<const uint8_t, kHelloBytes>(tail + kInstanceIdBytes, kHelloBytes));
  if (index == 2) {
    // handshake.md message 2: the responder's instance and hello,
    // authenticated (only the holder of the dialled key could encrypt them).
    std::copy(instance.begin(), instance.end(), peer_instance_.bytes.begin());
    peer_instance_known_ = true;
    return {};
  }

  // handshake.md message 3: the payload must be the Ed25519 vat id whose
  // X25519 image is the static key the initiator has just proven it holds,
  // followed by the initiator's instance and hello.
  // PeerKeys checks it, or finds it among the pairs it checked before.
  auto claimed = peer_keys_->initiator(std::span<const uint8_t, kVatIdBytes>(payload->data(), kVatIdBytes),
                                       noise_.remote_static());
  if (!claimed) return fail(claimed.error());
  peer_ = *claimed;
  std::copy(instance.begin(), instance.end(), peer_instance_.bytes.begin());
  peer_instance_known_ = true;
  return {};
}

CaptpHandshake::Established CaptpHandshake::finish() {
  if (!complete()) throw_error(ErrorKind::failed, "CaptpHandshake misuse: finish before the handshake completed");
  auto hash = noise_.handshake_hash();
  auto [i_to_r, r_to_i] = noise_.split();  // throws if called twice
  if (noise_.is_initiator())
    return Established{*peer_, peer_instance_, peer_hello_, hello_, std::move(i_to_r), std::move(r_to_i), hash};
  return Established{*peer_, peer_instance_, peer_hello_, hello_, std::move(r_to_i), std::move(i_to_r), hash};
}

}  // namespace vatic::captp
