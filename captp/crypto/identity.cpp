#include "captp/crypto/identity.h"

#include <sodium.h>

#include <cstring>

#include "vat/error.h"

namespace vatic::captp {
namespace {

constexpr std::string_view kChecksumDomain = "vatic-vat-id-v1";
constexpr std::size_t kChecksumBytes = 3;
constexpr std::size_t kTextBytes = kVatIdBytes + kChecksumBytes;  // 35 bytes = 280 bits = 56 chars
constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static_assert(kTextBytes * 8 == kVatIdTextChars * 5, "the text form has no padding bits");

// handshake.md: identity text form, checksum = BLAKE2b-256("vatic-vat-id-v1" || key)[0..3).
std::array<uint8_t, kChecksumBytes> checksum_of(std::span<const uint8_t, kVatIdBytes> key) {
  crypto_generichash_state st;
  std::array<uint8_t, crypto_generichash_BYTES> digest{};
  if (crypto_generichash_init(&st, nullptr, 0, digest.size()) != 0 ||
      crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kChecksumDomain.data()),
                                kChecksumDomain.size()) != 0 ||
      crypto_generichash_update(&st, key.data(), key.size()) != 0 ||
      crypto_generichash_final(&st, digest.data(), digest.size()) != 0) {
    throw_error(ErrorKind::failed, "crypto_generichash failed (invariant)");
  }
  return {digest[0], digest[1], digest[2]};
}

// -1 for a character outside the lowercase alphabet.
int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

std::string describe_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

// The checks shared by every way a VatId enters from outside.
bool is_valid_key(std::span<const uint8_t, kVatIdBytes> key, std::string* why) {
  // Rejects non-canonical encodings, points off the curve, small-order points
  // and points outside the prime-order subgroup: any of those would let two
  // texts name one vat or let a peer force a known shared secret.
  // A key and its negation differ only in this bit and convert to the same
  // X25519 key, so the handshake cannot tell them apart: only the spelling
  // with the bit clear is a vat id (spec/handshake.md).
  if (key[31] & 0x80) {
    if (why) *why = "the key is not in canonical form (sign bit set): a vat id has it clear";
    return false;
  }
  if (crypto_core_ed25519_is_valid_point(key.data()) != 1) {
    if (why) *why = "the key is not a valid Ed25519 public key (not a canonical point of the prime-order subgroup)";
    return false;
  }
  std::array<uint8_t, 32> x{};
  if (crypto_sign_ed25519_pk_to_curve25519(x.data(), key.data()) != 0) {
    if (why) *why = "the key has no X25519 equivalent";
    return false;
  }
  return true;
}

}  // namespace

std::optional<VatId> VatId::parse(std::string_view text, std::string* why) {
  ensure_sodium();
  // Length first: it is the cheapest check and bounds everything after it.
  if (text.size() != kVatIdTextChars) {
    if (why) *why = "a vat id is 56 characters, got " + std::to_string(text.size());
    return std::nullopt;
  }
  std::array<uint8_t, kTextBytes> raw{};
  uint32_t acc = 0;
  int bits = 0;
  std::size_t out = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    int v = base32_value(text[i]);
    if (v < 0) {
      if (why) {
        *why = "character " + describe_char(text[i]) + " at offset " + std::to_string(i) +
               " is not in the vat id alphabet (lowercase a-z and 2-7)";
      }
      return std::nullopt;
    }
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      raw[out++] = static_cast<uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  std::span<const uint8_t, kVatIdBytes> key(raw.data(), kVatIdBytes);
  auto expected = checksum_of(key);
  if (sodium_memcmp(expected.data(), raw.data() + kVatIdBytes, kChecksumBytes) != 0) {
    if (why) *why = "checksum mismatch: the vat id was mistyped or altered";
    return std::nullopt;
  }
  if (!is_valid_key(key, why)) return std::nullopt;
  VatId id;
  std::memcpy(id.bytes_.data(), key.data(), kVatIdBytes);
  return id;
}

std::optional<VatId> VatId::parse_bytes(std::span<const uint8_t> key, std::string* why) {
  ensure_sodium();
  if (key.size() != kVatIdBytes) {
    if (why) *why = "a vat id key is 32 bytes, got " + std::to_string(key.size());
    return std::nullopt;
  }
  std::span<const uint8_t, kVatIdBytes> fixed(key.data(), kVatIdBytes);
  if (!is_valid_key(fixed, why)) return std::nullopt;
  VatId id;
  std::memcpy(id.bytes_.data(), key.data(), kVatIdBytes);
  return id;
}

VatId VatId::from_bytes(std::span<const uint8_t, kVatIdBytes> key) {
  std::string why;
  auto id = parse_bytes(key, &why);
  if (!id) throw_error(ErrorKind::failed, "VatId::from_bytes: " + why + " (caller passed an unchecked key)");
  return *id;
}

std::string VatId::to_text() const {
  std::array<uint8_t, kTextBytes> raw{};
  std::memcpy(raw.data(), bytes_.data(), kVatIdBytes);
  auto sum = checksum_of(bytes_);
  std::memcpy(raw.data() + kVatIdBytes, sum.data(), kChecksumBytes);
  std::string text;
  text.reserve(kVatIdTextChars);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text.push_back(kAlphabet[(acc >> bits) & 31]);
    }
    acc &= (1u << bits) - 1;
  }
  return text;
}

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

Secret<32> Identity::x25519_secret() const {
  Secret<32> out;
  if (crypto_sign_ed25519_sk_to_curve25519(out.data(), expanded_.data()) != 0) {
    throw_error(ErrorKind::failed, "crypto_sign_ed25519_sk_to_curve25519 failed (invariant)");
  }
  return out;
}

std::array<uint8_t, 32> Identity::x25519_public() const {
  auto x = x25519_public_of(id_);
  // from_seed only builds identities whose key passed is_valid_key.
  if (!x) throw_error(ErrorKind::failed, "own vat id has no X25519 equivalent (invariant)");
  return *x;
}

std::array<uint8_t, kSignatureBytes> Identity::sign(std::span<const uint8_t> message) const {
  std::array<uint8_t, kSignatureBytes> sig{};
  if (crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), expanded_.data()) != 0) {
    throw_error(ErrorKind::failed, "crypto_sign_detached failed (invariant)");
  }
  return sig;
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

std::size_t std::hash<vatic::captp::VatId>::operator()(const vatic::captp::VatId& id) const noexcept {
  // Every VatId was built after ensure_sodium() succeeded, so randomness is ready.
  static const auto key = [] {
    std::array<uint8_t, crypto_shorthash_KEYBYTES> k{};
    randombytes_buf(k.data(), k.size());
    return k;
  }();
  std::array<uint8_t, crypto_shorthash_BYTES> out{};
  crypto_shorthash(out.data(), id.bytes().data(), id.bytes().size(), key.data());
  uint64_t h = 0;
  std::memcpy(&h, out.data(), sizeof h);
  return static_cast<std::size_t>(h);
}
