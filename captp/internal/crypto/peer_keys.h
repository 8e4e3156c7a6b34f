// PeerKeys: the X25519 images of other vats' ids that one Identity has met in
// handshakes, remembered so that dialling or accepting a vat again costs no
// conversion. spec/handshake.md needs them twice: the responder's static key
// is the image of the dialled vat id, and message 3's vat id must map to the
// static key the initiator has just proven it holds. Converting an Ed25519
// key costs a point decompression and a check that the point lies in the
// prime-order subgroup (about 50 us here), and a vat id from the wire is
// validated in full before that (about 90 us more): more than the three
// Diffie-Hellman operations of one side of a handshake together.
//
// Only pairs that passed those very checks are remembered, so a hit is worth
// the conversion it replaces. The entries are public values (vat ids and
// public keys), at most `capacity` of them, the oldest dropped first.
// Message 3 looks up by the key the initiator proved it holds, never by the
// vat id it claims: how long the lookup takes tells a peer about its own key
// only, not whether some other vat connected lately.
//
// Owned (shared) by an Identity and by its handshakes in flight; thread-safe
// (one mutex), as the Identity's const methods are.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vat/result.h"
#include "vat/vat_id.h"

namespace vatic::captp {

using X25519Public = std::array<uint8_t, 32>;

class PeerKeys {
 public:
  static constexpr std::size_t kDefaultCapacity = 256;
  explicit PeerKeys(std::size_t capacity = kDefaultCapacity);

  // handshake.md: the dialled vat's static key, the X25519 image of its id.
  // nullopt only for a key with no image (never for a VatId that was parsed).
  std::optional<X25519Public> dialled(const VatId& responder);

  // handshake.md message 3: the initiator's vat id, from the first 32 bytes of
  // the payload, if it is a valid vat id whose image is `proven`, the static
  // key the initiator has proven it holds; otherwise why not.
  Result<VatId> initiator(std::span<const uint8_t, kVatIdBytes> claimed, const X25519Public& proven);

  std::size_t size() const;

 private:
  // SipHash under a key of this cache's own: peers choose their keys.
  struct KeyHash {
    std::array<uint8_t, 16> key;
    std::size_t operator()(const X25519Public& x) const noexcept;
  };
  void remember(const VatId& id, const X25519Public& x);  // with mu_ held

  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::vector<std::pair<VatId, X25519Public>> ring_;  // insertion order; ring_[next_] goes first
  std::size_t next_ = 0;
  std::unordered_map<VatId, std::size_t> by_id_;
  std::unordered_map<X25519Public, std::size_t, KeyHash> by_key_;
};

}  // namespace vatic::captp
