#include "captp/internal/crypto/noise.h"

#include <sodium.h>

#include <cstring>

#include "vat/error.h"

namespace vatic::captp {
namespace {

// Exactly HASHLEN (32) bytes long, so Noise's InitializeSymmetric uses it as h
// directly, without hashing.
constexpr char kProtocolName[] = "Noise_XK_25519_ChaChaPoly_SHA256";
static_assert(sizeof(kProtocolName) - 1 == crypto_hash_sha256_BYTES);
static_assert(kNoiseTagBytes == crypto_aead_chacha20poly1305_ietf_ABYTES);
static_assert(kNoiseKeyBytes == crypto_aead_chacha20poly1305_ietf_KEYBYTES);

constexpr std::size_t kDhLen = crypto_scalarmult_curve25519_BYTES;
using Bytes32 = std::array<uint8_t, 32>;

[[noreturn]] void invariant(const char* what) {
  throw_error(ErrorKind::failed, std::string("libsodium call failed (invariant): ") + what);
}

// Noise ChaChaPoly nonce: 32 zero bits, then the 64-bit counter little-endian.
std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce_bytes(uint64_t n) {
  std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(n >> (8 * i));
  return nonce;
}

// HMAC-SHA256(key, a || b) with a 32-byte key; the state API because Noise's
// HKDF keys HMAC with the chaining key and with intermediate outputs.
void hmac_sha256(const uint8_t* key, std::span<const uint8_t> a, std::span<const uint8_t> b, uint8_t* out) {
  crypto_auth_hmacsha256_state st;
  bool ok = crypto_auth_hmacsha256_init(&st, key, 32) == 0 &&
            crypto_auth_hmacsha256_update(&st, a.data(), a.size()) == 0 &&
            crypto_auth_hmacsha256_update(&st, b.data(), b.size()) == 0 && crypto_auth_hmacsha256_final(&st, out) == 0;
  sodium_memzero(&st, sizeof st);  // the state holds the padded key
  if (!ok) invariant("crypto_auth_hmacsha256");
}

// Noise HKDF(chaining_key, input_key_material, 2).
void hkdf2(const Secret<32>& ck, std::span<const uint8_t> ikm, Secret<32>& out1, Secret<32>& out2) {
  Secret<32> temp_key;
  hmac_sha256(ck.data(), ikm, {}, temp_key.data());
  const uint8_t one = 0x01, two = 0x02;
  hmac_sha256(temp_key.data(), {&one, 1}, {}, out1.data());
  hmac_sha256(temp_key.data(), out1.span(), {&two, 1}, out2.data());
}

Bytes32 public_key_of(const Secret<32>& secret) {
  Bytes32 pub{};
  if (crypto_scalarmult_curve25519_base(pub.data(), secret.data()) != 0) invariant("crypto_scalarmult_base");
  return pub;
}

}  // namespace

// ---- CipherState ----------------------------------------------------------

CipherState::CipherState(Secret<kNoiseKeyBytes> key) : k_(std::move(key)), has_key_(true) { ensure_sodium(); }

void CipherState::encrypt_with_ad(std::span<const uint8_t> ad, std::span<const uint8_t> plaintext, uint8_t* out) {
  if (!has_key_) throw_error(ErrorKind::failed, "CipherState::encrypt_with_ad without a key (caller bug)");
  if (n_ == kNoiseReservedNonce) throw_error(ErrorKind::failed, "nonce exhausted: no more messages under this key");
  auto nonce = nonce_bytes(n_);
  if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + plaintext.size(), nullptr, plaintext.data(),
                                                         plaintext.size(), ad.data(), ad.size(), nullptr, nonce.data(),
                                                         k_.data()) != 0) {
    invariant("crypto_aead_chacha20poly1305_ietf_encrypt_detached");
  }
  ++n_;
}

bool CipherState::decrypt_with_ad(std::span<const uint8_t> ad, std::span<const uint8_t> ciphertext, uint8_t* out) {
  if (!has_key_) throw_error(ErrorKind::failed, "CipherState::decrypt_with_ad without a key (caller bug)");
  if (ciphertext.size() < kNoiseTagBytes || n_ == kNoiseReservedNonce) return false;
  const std::size_t len = ciphertext.size() - kNoiseTagBytes;
  auto nonce = nonce_bytes(n_);
  // libsodium checks the tag before it writes any plaintext, which is what
  // makes exact in-place decryption safe.
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, nullptr, ciphertext.data(), len, ciphertext.data() + len,
                                                         ad.data(), ad.size(), nonce.data(), k_.data()) != 0) {
    return false;
  }
  ++n_;
  return true;
}

void CipherState::rekey() {
  if (!has_key_) throw_error(ErrorKind::failed, "CipherState::rekey without a key (caller bug)");
  const std::array<uint8_t, 32> zeros{};
  Secret<32 + kNoiseTagBytes> block;
  auto nonce = nonce_bytes(kNoiseReservedNonce);
  if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(block.data(), block.data() + 32, nullptr, zeros.data(),
                                                         zeros.size(), nullptr, 0, nullptr, nonce.data(),
                                                         k_.data()) != 0) {
    invariant("crypto_aead_chacha20poly1305_ietf_encrypt_detached (rekey)");
  }
  std::memcpy(k_.data(), block.data(), 32);
}

// ---- NoiseXK --------------------------------------------------------------

NoiseXK::NoiseXK(bool initiator, const Secret<32>& s, const std::array<uint8_t, 32>& s_pub,
                 std::span<const uint8_t> prologue)
    : initiator_(initiator), s_(s.copy()), s_pub_(s_pub) {
  ensure_sodium();
  // Noise 5.2 InitializeSymmetric: h = protocol name (it is HASHLEN long), ck = h.
  std::memcpy(h_.data(), kProtocolName, h_.size());
  ck_ = Secret<32>::from(h_);
  mix_hash(prologue);
}

NoiseXK NoiseXK::initiator(const Secret<32>& static_x25519_secret, const std::array<uint8_t, 32>& static_x25519_public,
                           std::span<const uint8_t> prologue, const std::array<uint8_t, 32>& responder_static_public) {
  NoiseXK hs(true, static_x25519_secret, static_x25519_public, prologue);
  hs.rs_ = responder_static_public;
  hs.has_rs_ = true;
  hs.mix_hash(hs.rs_);  // pre-message "<- s"
  return hs;
}

NoiseXK NoiseXK::initiator(const Secret<32>& static_x25519_secret, std::span<const uint8_t> prologue,
                           const std::array<uint8_t, 32>& responder_static_public) {
  ensure_sodium();
  return initiator(static_x25519_secret, public_key_of(static_x25519_secret), prologue, responder_static_public);
}

NoiseXK NoiseXK::responder(const Secret<32>& static_x25519_secret, const std::array<uint8_t, 32>& static_x25519_public,
                           std::span<const uint8_t> prologue) {
  NoiseXK hs(false, static_x25519_secret, static_x25519_public, prologue);
  hs.mix_hash(hs.s_pub_);  // pre-message "<- s"
  hs.make_e();             // used by message 2; drawn now, while message 1 is being made
  return hs;
}

NoiseXK NoiseXK::responder(const Secret<32>& static_x25519_secret, std::span<const uint8_t> prologue) {
  ensure_sodium();
  return responder(static_x25519_secret, public_key_of(static_x25519_secret), prologue);
}

void NoiseXK::misuse(const char* what) { throw_error(ErrorKind::failed, std::string("NoiseXK misuse: ") + what); }

void NoiseXK::set_ephemeral_for_test(const Secret<32>& e) {
  // The ephemeral is used when our first message is written: step 0 for the
  // initiator, step 1 for the responder.
  if (dead_ || step_ > (initiator_ ? 0 : 1)) misuse("set_ephemeral_for_test after the ephemeral was used");
  e_ = e.copy();
  e_pub_ = public_key_of(e_);
  has_e_ = true;
}

void NoiseXK::mix_hash(std::span<const uint8_t> data) {
  crypto_hash_sha256_state st;
  if (crypto_hash_sha256_init(&st) != 0 || crypto_hash_sha256_update(&st, h_.data(), h_.size()) != 0 ||
      crypto_hash_sha256_update(&st, data.data(), data.size()) != 0 || crypto_hash_sha256_final(&st, h_.data()) != 0) {
    invariant("crypto_hash_sha256");
  }
}

void NoiseXK::mix_key(const Secret<32>& input_key_material) {
  Secret<32> ck, k;
  hkdf2(ck_, input_key_material.span(), ck, k);
  ck_ = std::move(ck);
  cs_ = CipherState(std::move(k));
}

bool NoiseXK::dh(const Secret<32>& secret, const std::array<uint8_t, 32>& pub) {
  Secret<kDhLen> shared;
  // libsodium returns -1 for an all-zero result, i.e. a low-order peer key:
  // such a key would make the "shared" secret known to everyone.
  if (crypto_scalarmult_curve25519(shared.data(), secret.data(), pub.data()) != 0) return false;
  mix_key(shared);
  return true;
}

void NoiseXK::encrypt_and_hash(std::span<const uint8_t> plaintext, std::vector<uint8_t>& out) {
  const std::size_t at = out.size();
  if (!cs_.has_key()) {
    out.insert(out.end(), plaintext.begin(), plaintext.end());
  } else {
    out.resize(at + plaintext.size() + kNoiseTagBytes);
    cs_.encrypt_with_ad(h_, plaintext, out.data() + at);
  }
  mix_hash(std::span<const uint8_t>(out).subspan(at));
}

bool NoiseXK::decrypt_and_hash(std::span<const uint8_t> ciphertext, std::vector<uint8_t>& out) {
  if (!cs_.has_key()) {
    out.assign(ciphertext.begin(), ciphertext.end());
  } else {
    if (ciphertext.size() < kNoiseTagBytes) return false;
    out.resize(ciphertext.size() - kNoiseTagBytes);
    if (!cs_.decrypt_with_ad(h_, ciphertext, out.data())) return false;
  }
  mix_hash(ciphertext);
  return true;
}

void NoiseXK::make_e() {
  randombytes_buf(e_.data(), e_.size());
  e_pub_ = public_key_of(e_);
  has_e_ = true;
}

void NoiseXK::write_e(std::vector<uint8_t>& out) {
  if (!has_e_) make_e();
  out.insert(out.end(), e_pub_.begin(), e_pub_.end());
  mix_hash(e_pub_);
}

bool NoiseXK::read_e(std::span<const uint8_t> message) {
  if (message.size() < re_.size()) return false;
  std::memcpy(re_.data(), message.data(), re_.size());
  mix_hash(re_);
  return true;
}

std::vector<uint8_t> NoiseXK::write_message(std::span<const uint8_t> payload) {
  if (dead_) misuse("write_message after the handshake failed");
  if (step_ >= kSteps) misuse("write_message after the handshake completed");
  if (!my_turn_to_write()) misuse("write_message when it is the peer's turn");
  const std::size_t overhead = (step_ == 2 ? 32 + kNoiseTagBytes : 32) + kNoiseTagBytes;
  if (payload.size() > kNoiseMaxMessage - overhead) misuse("handshake payload too large for one Noise message");

  std::vector<uint8_t> out;
  out.reserve(overhead + payload.size());
  bool ok = true;
  switch (step_) {
    case 0:  // handshake.md message 1: -> e, es
      write_e(out);
      ok = dh(e_, rs_);
      break;
    case 1:  // handshake.md message 2: <- e, ee
      write_e(out);
      ok = dh(e_, re_);
      break;
    case 2:  // handshake.md message 3: -> s, se
      encrypt_and_hash(s_pub_, out);
      ok = dh(s_, re_);
      break;
  }
  if (!ok) {
    // Unreachable with a peer key that passed read_message's DH; with a bad
    // key given to initiator() it is the caller's.
    dead_ = true;
    throw_error(ErrorKind::failed, "Noise DH produced the all-zero output (low-order public key)");
  }
  encrypt_and_hash(payload, out);
  if (++step_ == kSteps) e_ = Secret<32>();  // the ephemeral is no longer needed
  return out;
}

std::optional<std::vector<uint8_t>> NoiseXK::read_message(std::span<const uint8_t> message) {
  if (dead_) return std::nullopt;
  if (step_ >= kSteps) misuse("read_message after the handshake completed");
  if (my_turn_to_write()) misuse("read_message when it is this side's turn to write");

  std::vector<uint8_t> payload;
  bool ok = message.size() <= kNoiseMaxMessage;
  switch (step_) {
    case 0:  // handshake.md message 1: -> e, es
      ok = ok && read_e(message) && dh(s_, re_);
      break;
    case 1:  // handshake.md message 2: <- e, ee
      ok = ok && read_e(message) && dh(e_, re_);
      break;
    case 2: {  // handshake.md message 3: -> s, se
      std::vector<uint8_t> rs;
      constexpr std::size_t kEncryptedStatic = 32 + kNoiseTagBytes;
      ok = ok && message.size() >= kEncryptedStatic && decrypt_and_hash(message.first(kEncryptedStatic), rs) &&
           rs.size() == rs_.size();
      if (ok) {
        std::memcpy(rs_.data(), rs.data(), rs_.size());
        has_rs_ = true;
        ok = dh(e_, rs_);
      }
      break;
    }
  }
  const std::size_t consumed = step_ == 2 ? 32 + kNoiseTagBytes : 32;
  ok = ok && decrypt_and_hash(message.subspan(consumed), payload);
  if (!ok) {
    // Fail closed: drop every key so that nothing further can be derived.
    dead_ = true;
    ck_ = Secret<32>();
    e_ = Secret<32>();
    cs_ = CipherState();
    return std::nullopt;
  }
  if (++step_ == kSteps) e_ = Secret<32>();
  return payload;
}

const std::array<uint8_t, 32>& NoiseXK::remote_static() const {
  if (!has_rs_) throw_error(ErrorKind::failed, "NoiseXK misuse: remote static key not known before message 3");
  return rs_;
}

std::pair<CipherState, CipherState> NoiseXK::split() {
  if (dead_ || !complete()) misuse("split before the handshake completed");
  if (split_done_) misuse("split called twice");
  Secret<32> k1, k2;
  hkdf2(ck_, {}, k1, k2);  // Noise 5.2 Split: HKDF(ck, zerolen, 2)
  ck_ = Secret<32>();
  s_ = Secret<32>();
  split_done_ = true;
  return {CipherState(std::move(k1)), CipherState(std::move(k2))};
}

}  // namespace vatic::captp
