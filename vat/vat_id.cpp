#include "vat/vat_id.h"

#include <sodium.h>

#include <cstring>

#include "vat/error.h"
#include "vat/secret.h"

namespace vatic {
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
Result<void> check_key(std::span<const uint8_t, kVatIdBytes> key) {
  // Rejects non-canonical encodings, points off the curve, small-order points
  // and points outside the prime-order subgroup: any of those would let two
  // texts name one vat or let a peer force a known shared secret.
  // A key and its negation differ only in this bit and convert to the same
  // X25519 key, so the handshake cannot tell them apart: only the spelling
  // with the bit clear is a vat id (spec/handshake.md).
  if (key[31] & 0x80) {
    return refuse("the key is not in canonical form (sign bit set): a vat id has it clear");
  }
  if (crypto_core_ed25519_is_valid_point(key.data()) != 1) {
    return refuse("the key is not a valid Ed25519 public key (not a canonical point of the prime-order subgroup)");
  }
  std::array<uint8_t, 32> x{};
  if (crypto_sign_ed25519_pk_to_curve25519(x.data(), key.data()) != 0) {
    return refuse("the key has no X25519 equivalent");
  }
  return {};
}

}  // namespace

Result<VatId> VatId::parse(std::string_view text) {
  ensure_sodium();
  // Length first: it is the cheapest check and bounds everything after it.
  if (text.size() != kVatIdTextChars) {
    return refuse("a vat id is 56 characters, got " + std::to_string(text.size()));
  }
  std::array<uint8_t, kTextBytes> raw{};
  uint32_t acc = 0;
  int bits = 0;
  std::size_t out = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    int v = base32_value(text[i]);
    if (v < 0) {
      return refuse("character " + describe_char(text[i]) + " at offset " + std::to_string(i) +
                    " is not in the vat id alphabet (lowercase a-z and 2-7)");
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
    return refuse("checksum mismatch: the vat id was mistyped or altered");
  }
  if (auto ok = check_key(key); !ok) return refuse(ok.error());
  VatId id;
  std::memcpy(id.bytes_.data(), key.data(), kVatIdBytes);
  return id;
}

Result<VatId> VatId::parse_bytes(std::span<const uint8_t> key) {
  ensure_sodium();
  if (key.size() != kVatIdBytes) {
    return refuse("a vat id key is 32 bytes, got " + std::to_string(key.size()));
  }
  std::span<const uint8_t, kVatIdBytes> fixed(key.data(), kVatIdBytes);
  if (auto ok = check_key(fixed); !ok) return refuse(ok.error());
  VatId id;
  std::memcpy(id.bytes_.data(), key.data(), kVatIdBytes);
  return id;
}

VatId VatId::from_bytes(std::span<const uint8_t, kVatIdBytes> key) {
  auto id = parse_bytes(key);
  if (!id) throw_error(ErrorKind::failed, "VatId::from_bytes: " + id.error() + " (caller passed an unchecked key)");
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

}  // namespace vatic

std::size_t std::hash<vatic::VatId>::operator()(const vatic::VatId& id) const noexcept {
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
