// Identity: a vat *is* its Ed25519 key pair. The public half (VatId, in
// vat/vat_id.h: a plain value every layer may name) names the vat everywhere a
// peer must be pinned (sturdy refs, handoffs, the handshake's responder key),
// so that knowing a vat's name is enough to authenticate it, with no
// certificate authority in between. The private half (Identity) never
// leaves its vat; the handshake uses its X25519 conversion as the Noise static
// key, so one key pair serves both signing and key agreement.
//
// The conversions cost tens of microseconds each (a scalar multiplication, a
// subgroup check), so an Identity makes its own X25519 pair once, when it is
// built, and keeps it in wiping memory with the seed; and it remembers the
// X25519 images of the vats it dialled or accepted (PeerKeys, in
// captp/internal/crypto/peer_keys.h), so that a vat met again costs none.
//
// Identity owns the secret seed; it is movable, not copyable, and const methods may be called
// from any thread. See spec/handshake.md for the text form.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "vat/secret.h"
#include "vat/vat_id.h"

namespace vatic::captp {

// The vat id is a vatic-wide value; captp spells it as it always has.
using vatic::kVatIdBytes;
using vatic::kVatIdTextChars;
using vatic::VatId;

inline constexpr std::size_t kSignatureBytes = 64;

class PeerKeys;  // captp/internal/crypto/peer_keys.h

class Identity {
 public:
  Identity(Identity&&) noexcept;
  Identity& operator=(Identity&&) noexcept;
  ~Identity();

  // A fresh key pair from libsodium's system randomness.
  // TODO(soon): take the randomness source from main() (STYLE 5) once vat/ has one.
  static Identity generate();
  static Identity from_seed(const Secret<32>& seed);

  const VatId& id() const { return id_; }
  // The 32-byte Ed25519 seed: all that must be stored to restore this identity.
  const Secret<32>& seed() const { return seed_; }

  // The Noise static key pair (the birational map of the Ed25519 key),
  // computed when the identity was made.
  const Secret<32>& x25519_secret() const { return x25519_secret_; }
  const std::array<uint8_t, 32>& x25519_public() const { return x25519_public_; }

  // The X25519 images of other vats' ids met in handshakes (the handshake's
  // cache; thread-safe). Shared, so that a handshake still running when its
  // Node is gone does not outlive it.
  const std::shared_ptr<PeerKeys>& peer_keys() const { return peers_; }

  std::array<uint8_t, kSignatureBytes> sign(std::span<const uint8_t> message) const;

 private:
  Identity(VatId id, Secret<32> seed, Secret<64> expanded);

  VatId id_;
  Secret<32> seed_;
  Secret<64> expanded_;  // libsodium's secret key layout: seed || public key
  Secret<32> x25519_secret_;
  std::array<uint8_t, 32> x25519_public_{};
  std::shared_ptr<PeerKeys> peers_;  // never null, except in a moved-from Identity
};

// InstanceId: which running Node of a vat identity this is. One identity (one
// store) may run in several processes at once: two terminals of one user, a
// script running commands in parallel. Each Node draws a fresh random instance
// id, sends it inside the authenticated handshake (spec/handshake.md, messages
// 2 and 3), and keys its sessions by (peer vat id, peer instance), so those
// processes never cut each other off (spec/captp.md, section 9). It is not a
// secret and grants nothing: authority stays with the vat id. A plain value,
// any thread.
inline constexpr std::size_t kInstanceIdBytes = 16;

struct InstanceId {
  std::array<uint8_t, kInstanceIdBytes> bytes{};

  // 128 random bits (libsodium): two Nodes never draw the same one.
  static InstanceId generate();
  // Lowercase hex, for logs and the admin object.
  std::string to_text() const;
  friend auto operator<=>(const InstanceId&, const InstanceId&) = default;
};

// True iff `signature` is a valid Ed25519 signature of `message` by `signer`.
// Any malformed input (wrong length, non-canonical encoding) yields false.
bool verify(const VatId& signer, std::span<const uint8_t> message, std::span<const uint8_t> signature);

// The X25519 public key a vat uses in the handshake, or nullopt if the key has
// no X25519 image (cannot happen for a VatId that passed parse()).
std::optional<std::array<uint8_t, 32>> x25519_public_of(const VatId& id);

}  // namespace vatic::captp
