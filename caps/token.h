// Token: an attenuated capability token (a macaroon). It names one object of
// one vat and proves, with a chained keyed-BLAKE2b tag, that the vat minted it
// and that its caveats were appended in this order; any holder can append a
// caveat offline, nobody without the object's key can remove one. A token with
// no caveats is a plain sturdy ref. spec/token.md is normative for everything
// here: format, limits, tag chain and revocation ids.
//
// These are plain values and pure functions with no thread affinity. Decoding
// is an untrusted-input boundary: it returns a Result, never throws for bad
// bytes. Keys (master and object keys) live in SecretKey, which wipes itself.
// caps/ builds on vat/ only, so vat ids here are raw 32-byte keys (VatKey);
// sturdyrefs/ checks them against captp::VatId.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "vat/error.h"
#include "vat/result.h"
#include "vat/secret.h"

namespace vatic::caps {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::size_t kVatKeyBytes = 32;
inline constexpr std::size_t kObjectIdBytes = 16;
inline constexpr std::size_t kTagBytes = 32;
inline constexpr std::size_t kRevocationIdBytes = 32;
inline constexpr std::size_t kKeyBytes = 32;

// token.md: binary format and limits.
inline constexpr std::uint8_t kTokenVersion = 1;
inline constexpr std::size_t kMaxCaveats = 32;
inline constexpr std::size_t kMaxCaveatBytes = 1024;
inline constexpr std::size_t kMaxTokenBytes = 8192;
inline constexpr std::size_t kMinTokenBytes = 1 + kVatKeyBytes + kObjectIdBytes + 1 + kTagBytes;  // 82

using VatKey = std::array<std::uint8_t, kVatKeyBytes>;
using ObjectId = std::array<std::uint8_t, kObjectIdBytes>;
using Tag = std::array<std::uint8_t, kTagBytes>;
using RevocationId = std::array<std::uint8_t, kRevocationIdBytes>;

// Functions at this untrusted boundary return vatic::Result (vat/result.h).

// A 32-byte secret key that wipes itself when destroyed or moved from. Copies
// are explicit (copy()) so that each one shows in review.
// Token keys are vatic::Secret (vat/secret.h): wiped when destroyed or moved
// from; fresh ones with SecretKey::random().
using SecretKey = Secret<kKeyBytes>;

using MasterKey = SecretKey;  // one per store; K_obj derives from it
using ObjectKey = SecretKey;  // K_obj: keys the tag chain of one object

struct Token {
  VatKey vat{};
  ObjectId object{};
  std::vector<Bytes> caveats;  // each exactly the bytes that were MACed (type byte first)
  Tag tag{};

  friend bool operator==(const Token&, const Token&) = default;
};

// token.md: binary format. Precondition: `t` is within the limits (tokens from
// decode_token, mint and attenuate always are); otherwise throws VatError.
Bytes encode_token(const Token& t);
// Strict decode: sizes first, then version, count, lengths, no trailing bytes.
// Does not interpret the caveats (that happens after the tag verifies).
Result<Token> decode_token(std::span<const std::uint8_t> bytes);

// A fresh random object id (public; names the object, grants nothing).
ObjectId new_object_id();
// token.md: keys. K_obj = MAC_objkey(master, object id).
ObjectKey derive_object_key(const MasterKey& master, const ObjectId& object);

// token.md: tag chain, tag_0. A token with no caveats.
Token mint(const ObjectKey& key, const VatKey& vat, const ObjectId& object);
// token.md: tag chain, tag_i. Appends one caveat; needs no key. Refuses a
// caveat that is not a valid encoding (caveat.h) or that would exceed a limit.
Result<Token> attenuate(const Token& token, std::span<const std::uint8_t> caveat);

// token.md: revocation. rid = H_revoke(tag).
RevocationId revocation_id(const Tag& tag);

struct ChainCheck {
  bool valid = false;                        // the recomputed tag equals the token's (constant time)
  std::vector<RevocationId> revocation_ids;  // rid_0..rid_n, one per prefix (when asked for), valid or not
};
// token.md: redeeming, steps 4 and 5. Recomputes the chain from `key` and
// compares in constant time. Checks neither the vat id nor the caveats. The
// revocation ids cost one more hash per prefix, so a redeemer that knows no
// branch of this object is revoked skips them.
ChainCheck verify_chain(const Token& token, const ObjectKey& key, bool with_revocation_ids = true);

}  // namespace vatic::caps
