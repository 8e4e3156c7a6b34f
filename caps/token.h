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

// The result of a function at an untrusted boundary: a value, or the reason
// the input was refused. value() on a failure is a caller bug (throws VatError).
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit, so that `return value;` reads well
  static Result failure(std::string why) { return Result(Failure{std::move(why)}); }

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  const T& value() const& { return std::get<0>(checked()); }
  T& value() & { return std::get<0>(checked()); }
  T&& value() && { return std::get<0>(std::move(checked())); }
  const T* operator->() const { return &value(); }
  const T& operator*() const& { return value(); }
  // The reason for a failure; empty for a value.
  const std::string& error() const noexcept { return ok() ? kNone : std::get<1>(v_).why; }

 private:
  struct Failure {
    std::string why;
  };
  explicit Result(Failure f) : v_(std::move(f)) {}
  std::variant<T, Failure>& checked() {
    if (!ok()) throw_error(ErrorKind::failed, "caller bug: value() of a failed result: " + std::get<1>(v_).why);
    return v_;
  }
  const std::variant<T, Failure>& checked() const { return const_cast<Result*>(this)->checked(); }

  inline static const std::string kNone;
  std::variant<T, Failure> v_;
};

namespace internal {
// sodium_memzero, kept out of this header so that it does not pull in <sodium.h>.
void wipe(void* p, std::size_t n) noexcept;
}  // namespace internal

// A 32-byte secret key that wipes itself when destroyed or moved from. Copies
// are explicit (copy()) so that each one shows in review.
class SecretKey {
 public:
  SecretKey() noexcept { bytes_.fill(0); }
  ~SecretKey() { internal::wipe(bytes_.data(), kKeyBytes); }
  SecretKey(SecretKey&& other) noexcept : bytes_(other.bytes_) { internal::wipe(other.bytes_.data(), kKeyBytes); }
  SecretKey& operator=(SecretKey&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      internal::wipe(other.bytes_.data(), kKeyBytes);
    }
    return *this;
  }
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;

  // Fresh key from libsodium randomness.
  static SecretKey generate();
  // Copies the bytes in (the caller remains responsible for wiping its source).
  static SecretKey from(std::span<const std::uint8_t, kKeyBytes> bytes);
  SecretKey copy() const { return from(span()); }

  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  std::span<const std::uint8_t, kKeyBytes> span() const noexcept { return bytes_; }

 private:
  std::array<std::uint8_t, kKeyBytes> bytes_;
};

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
