// VatId: the name of a vat, which is its Ed25519 public key. Knowing a vat's id
// is enough to authenticate it (the handshake proves the far end holds the
// key), so the id is what sturdy refs, tokens bound to a holder, handoffs and
// the admin views carry. The text form is 56 lowercase base32 characters with
// a checksum (spec/handshake.md, "Identity").
//
// Every way in from outside is checked: the text form's alphabet, length and
// checksum, and the key itself (canonical, on the curve, in the prime-order
// subgroup, sign bit clear), so that two spellings never name one vat. The
// private half lives in captp::Identity.
//
// A plain value below every layer that names vats (captp/ and caps/), safe to
// copy and share across threads.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "vat/result.h"

namespace vatic {

inline constexpr std::size_t kVatIdBytes = 32;
inline constexpr std::size_t kVatIdTextChars = 56;  // base32 of 32 key + 3 checksum bytes

class VatId {
 public:
  // Strict parse of the text form; a refusal says what was wrong. Never
  // throws for bad input.
  static Result<VatId> parse(std::string_view text);
  // The same checks on raw key bytes that came from a peer.
  static Result<VatId> parse_bytes(std::span<const std::uint8_t> key);
  // For bytes our own code vouches for; throws VatError if they are not a
  // valid Ed25519 public key (a caller bug).
  static VatId from_bytes(std::span<const std::uint8_t, kVatIdBytes> key);

  std::string to_text() const;
  const std::array<std::uint8_t, kVatIdBytes>& bytes() const { return bytes_; }

  friend auto operator<=>(const VatId&, const VatId&) = default;
  friend bool operator==(const VatId&, const VatId&) = default;

 private:
  VatId() = default;
  std::array<std::uint8_t, kVatIdBytes> bytes_{};
};

}  // namespace vatic

template <>
struct std::hash<vatic::VatId> {
  // Keyed (SipHash with a per-process random key): peers choose their own
  // ids, so an unkeyed hash would let them grind ids into one bucket.
  std::size_t operator()(const vatic::VatId& id) const noexcept;
};
