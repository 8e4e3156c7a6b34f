#include "captp/internal/crypto/peer_keys.h"

#include <sodium.h>

#include <cstring>

#include "captp/identity.h"
#include "vat/error.h"
#include "vat/secret.h"

namespace vatic::captp {

PeerKeys::PeerKeys(std::size_t capacity)
    : capacity_(capacity), by_key_(0, KeyHash{[] {
                                     ensure_sodium();
                                     std::array<uint8_t, 16> k{};
                                     randombytes_buf(k.data(), k.size());
                                     return k;
                                   }()}) {
  static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);
  if (capacity_ == 0) throw_error(ErrorKind::failed, "PeerKeys: capacity must be positive (caller bug)");
  ring_.reserve(capacity_);
}

std::size_t PeerKeys::KeyHash::operator()(const X25519Public& x) const noexcept {
  std::array<uint8_t, crypto_shorthash_BYTES> out{};
  crypto_shorthash(out.data(), x.data(), x.size(), key.data());
  std::size_t h = 0;
  std::memcpy(&h, out.data(), sizeof h);
  return h;
}

std::size_t PeerKeys::size() const {
  std::lock_guard lock(mu_);
  return ring_.size();
}

void PeerKeys::remember(const VatId& id, const X25519Public& x) {
  // Another thread may have converted the same key meanwhile. (Two vat ids
  // never share an image: the sign bit of a vat id is clear, and the image
  // fixes the rest; a key already known is kept as it is.)
  if (by_id_.contains(id) || by_key_.contains(x)) return;
  std::size_t slot;
  if (ring_.size() < capacity_) {
    slot = ring_.size();
    ring_.emplace_back(id, x);
  } else {
    slot = next_;
    next_ = (next_ + 1) % capacity_;
    by_id_.erase(ring_[slot].first);
    by_key_.erase(ring_[slot].second);
    ring_[slot] = {id, x};
  }
  by_id_.emplace(id, slot);
  by_key_.emplace(x, slot);
}

std::optional<X25519Public> PeerKeys::dialled(const VatId& responder) {
  {
    std::lock_guard lock(mu_);
    if (auto it = by_id_.find(responder); it != by_id_.end()) return ring_[it->second].second;
  }
  auto x = x25519_public_of(responder);  // outside the lock: it takes ~50 us
  if (!x) return std::nullopt;
  std::lock_guard lock(mu_);
  remember(responder, *x);
  return x;
}

Result<VatId> PeerKeys::initiator(std::span<const uint8_t, kVatIdBytes> claimed, const X25519Public& proven) {
  {
    std::lock_guard lock(mu_);
    if (auto it = by_key_.find(proven); it != by_key_.end()) {
      const VatId& known = ring_[it->second].first;
      // handshake.md message 3 (constant-time, as on the full path). Any
      // other claim takes the full path below, which refuses it.
      if (sodium_memcmp(claimed.data(), known.bytes().data(), kVatIdBytes) == 0) return known;
    }
  }
  // handshake.md message 3: a valid vat id (parse_bytes: canonical, in the
  // prime-order subgroup, sign bit clear) whose image is the proven key.
  auto id = VatId::parse_bytes(claimed);
  if (!id) return refuse("initiator's vat id is invalid: " + id.error());
  auto image = x25519_public_of(*id);
  if (!image || sodium_memcmp(image->data(), proven.data(), proven.size()) != 0) {
    return refuse("initiator's vat id does not match its static key");
  }
  std::lock_guard lock(mu_);
  remember(*id, *image);
  return *id;
}

}  // namespace vatic::captp
