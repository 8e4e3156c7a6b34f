#include "captp/identity.h"

#include <sodium.h>

#include <cstring>

#include "captp/internal/crypto/peer_keys.h"
#include "vat/error.h"

namespace vatic::captp {

Identity::Identity(VatId id, Secret<32> seed, Secret<64> expanded)
    : id_(id), seed_(std::move(seed)), expanded_(std::move(expanded)), peers_(std::make_shared<PeerKeys>()) {
  // handshake.md: the Noise static key is the X25519 image of the Ed25519 key.
  // Made once here: every handshake of this vat needs both halves.
  if (crypto_sign_ed25519_sk_to_curve25519(x25519_secret_.data(), expanded_.data()) != 0) {
    throw_error(ErrorKind::failed, "crypto_sign_ed25519_sk_to_curve25519 failed (invariant)");
  }
  if (crypto_scalarmult_curve25519_base(x25519_public_.data(), x25519_secret_.data()) != 0) {
    throw_error(ErrorKind::failed, "crypto_scalarmult_curve25519_base failed (invariant)");
  }
}

Identity::Identity(Identity&&) noexcept = default;
Identity& Identity::operator=(Identity&&) noexcept = default;
Identity::~Identity() = default;  // the Secret members wipe themselves
Identity Identity::generate() {
  ensure_sodium();
  Secret<32> seed;
  std::array<uint8_t, kVatIdBytes> pk{};
  Secret<64> sk;
  do {  // half of all keys have the sign bit set: they are not vat ids
    randombytes_buf(seed.data(), seed.size());
    if (crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data()) != 0)
      throw_error(ErrorKind::failed, "crypto_sign_seed_keypair failed (invariant)");
  } while (pk[31] & 0x80);
  return from_seed(seed);
}

Identity Identity::from_seed(const Secret<32>& seed) {
  ensure_sodium();
  std::array<uint8_t, kVatIdBytes> pk{};
  Secret<64> expanded;
  if (crypto_sign_seed_keypair(pk.data(), expanded.data(), seed.data()) != 0) {
    throw_error(ErrorKind::failed, "crypto_sign_seed_keypair failed (invariant)");
  }
  return Identity(VatId::from_bytes(pk), seed.copy(), std::move(expanded));
}

std::array<uint8_t, kSignatureBytes> Identity::sign(std::span<const uint8_t> message) const {
  std::array<uint8_t, kSignatureBytes> sig{};
  if (crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), expanded_.data()) != 0) {
    throw_error(ErrorKind::failed, "crypto_sign_detached failed (invariant)");
  }
  return sig;
}

InstanceId InstanceId::generate() {
  ensure_sodium();
  InstanceId out;
  randombytes_buf(out.bytes.data(), out.bytes.size());
  return out;
}

std::string InstanceId::to_text() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool verify(const VatId& signer, std::span<const uint8_t> message, std::span<const uint8_t> signature) {
  ensure_sodium();
  if (signature.size() != kSignatureBytes) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), signer.bytes().data()) == 0;
}

std::optional<std::array<uint8_t, 32>> x25519_public_of(const VatId& id) {
  ensure_sodium();
  std::array<uint8_t, 32> x{};
  if (crypto_sign_ed25519_pk_to_curve25519(x.data(), id.bytes().data()) != 0) return std::nullopt;
  return x;
}

}  // namespace vatic::captp
