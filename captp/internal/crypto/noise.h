// Noise: the handshake that turns two vats' long-term keys into a pair of
// fresh, forward-secret transport keys. We implement exactly one protocol of
// the Noise framework (revision 34), Noise_XK_25519_ChaChaPoly_SHA256, on
// libsodium primitives, rather than a general Noise library: one pattern is
// small enough to audit line by line against the spec, and it is the one whose
// properties we want (spec/handshake.md says why).
//
// CipherState is one direction of an authenticated-encryption channel (a key
// and a nonce counter); NoiseXK runs the three handshake messages and splits
// into two CipherStates. Neither is thread-safe: each object belongs to the one
// connection (and strand) that drives it. Both are movable, not copyable; keys
// live in Secret<> and are wiped with their owner.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vat/secret.h"

namespace vatic::captp {

inline constexpr std::size_t kNoiseKeyBytes = 32;
inline constexpr std::size_t kNoiseTagBytes = 16;
inline constexpr std::size_t kNoiseMaxMessage = 65535;  // Noise: every message fits in 64 KiB - 1
inline constexpr uint64_t kNoiseReservedNonce = ~uint64_t{0};

namespace internal {
// A bool that a move resets to `kAfterMove` in the source, so that a moved-from
// object is inert (keyless, or dead) instead of a twin holding a wiped key.
template <bool kAfterMove>
class MoveResetBool {
 public:
  constexpr MoveResetBool(bool v) noexcept : v_(v) {}  // NOLINT(google-explicit-constructor)
  MoveResetBool(MoveResetBool&& o) noexcept : v_(std::exchange(o.v_, kAfterMove)) {}
  MoveResetBool& operator=(MoveResetBool&& o) noexcept {
    v_ = std::exchange(o.v_, kAfterMove);
    return *this;
  }
  MoveResetBool& operator=(bool v) noexcept {
    v_ = v;
    return *this;
  }
  operator bool() const noexcept { return v_; }  // NOLINT(google-explicit-constructor)

 private:
  bool v_;
};
}  // namespace internal

class CipherState {
 public:
  CipherState() = default;  // no key: every encrypt/decrypt is a caller bug
  explicit CipherState(Secret<kNoiseKeyBytes> key);
  CipherState(CipherState&&) noexcept = default;
  CipherState& operator=(CipherState&&) noexcept = default;

  bool has_key() const { return has_key_; }
  uint64_t nonce() const { return n_; }
  // Noise SetNonce(). The transport never needs it (nonces only count up);
  // tests use it to reach exhaustion.
  void set_nonce(uint64_t n) { n_ = n; }

  // `out` has room for plaintext.size() + 16 bytes; out == plaintext.data()
  // (exactly in place) is allowed, any other overlap is not. Throws VatError
  // without a key or once the nonce reached 2^64-1 (reserved by Noise).
  void encrypt_with_ad(std::span<const uint8_t> ad, std::span<const uint8_t> plaintext, uint8_t* out);
  // `out` has room for ciphertext.size() - 16 bytes; exactly in place allowed.
  // False (nonce unchanged) if the ciphertext is shorter than a tag, fails
  // authentication, or the nonce is exhausted; `out` then holds no plaintext.
  [[nodiscard]] bool decrypt_with_ad(std::span<const uint8_t> ad, std::span<const uint8_t> ciphertext, uint8_t* out);

  // Noise REKEY: k = ENCRYPT(k, 2^64-1, "", 32 zero bytes)[0..32). The nonce
  // is kept; both ends must rekey after the same message.
  void rekey();

 private:
  Secret<kNoiseKeyBytes> k_;
  uint64_t n_ = 0;
  internal::MoveResetBool<false> has_key_ = false;
};

class NoiseXK {
 public:
  // `responder_static_public` is the X25519 key of the vat being dialled.
  // `static_x25519_public` must be the public half of the static secret: a
  // vat computes it once (captp::Identity), not once per handshake; the
  // overloads without it compute it (a scalar multiplication).
  static NoiseXK initiator(const Secret<32>& static_x25519_secret, const std::array<uint8_t, 32>& static_x25519_public,
                           std::span<const uint8_t> prologue, const std::array<uint8_t, 32>& responder_static_public);
  static NoiseXK initiator(const Secret<32>& static_x25519_secret, std::span<const uint8_t> prologue,
                           const std::array<uint8_t, 32>& responder_static_public);
  // The responder draws its ephemeral key here, when the connection is
  // accepted, not when it answers message 1: the scalar multiplication then
  // runs while the initiator computes message 1, off the handshake's path.
  static NoiseXK responder(const Secret<32>& static_x25519_secret, const std::array<uint8_t, 32>& static_x25519_public,
                           std::span<const uint8_t> prologue);
  static NoiseXK responder(const Secret<32>& static_x25519_secret, std::span<const uint8_t> prologue);

  NoiseXK(NoiseXK&&) noexcept = default;
  NoiseXK& operator=(NoiseXK&&) noexcept = default;

  // Fixes the ephemeral key (initiator: before message 1; responder: before
  // message 2; it replaces the one drawn in advance). Only for known-answer
  // tests: a reused ephemeral destroys forward secrecy.
  void set_ephemeral_for_test(const Secret<32>& e);

  // Produces the next handshake message; throws VatError on misuse (not our
  // turn, handshake finished or failed, payload too large).
  std::vector<uint8_t> write_message(std::span<const uint8_t> payload);
  // Consumes the peer's next message and returns its payload, or nullopt on
  // any failure of the message (size, authentication, low-order key). After a
  // failure the handshake is dead: every later read returns nullopt, every
  // write throws. Reading out of turn is our own bug and throws VatError.
  std::optional<std::vector<uint8_t>> read_message(std::span<const uint8_t> message);

  bool is_initiator() const { return initiator_; }
  int messages_done() const { return step_; }  // 0..3
  bool complete() const { return step_ == kSteps; }
  bool failed() const { return dead_; }
  // Whose turn: true if the next call must be write_message.
  bool my_turn_to_write() const { return !dead_ && step_ < kSteps && (step_ % 2 == 0) == initiator_; }

  // Initiator: the key it dialled. Responder: the initiator's static key,
  // known once message 3 was read. Throws VatError before that.
  const std::array<uint8_t, 32>& remote_static() const;
  // The transcript hash h, a channel binding: equal on both ends once complete.
  std::array<uint8_t, 32> handshake_hash() const { return h_; }

  // first: initiator -> responder, second: responder -> initiator. Only once,
  // only when complete(); throws VatError otherwise. Wipes the chaining key.
  std::pair<CipherState, CipherState> split();

 private:
  static constexpr int kSteps = 3;
  NoiseXK(bool initiator, const Secret<32>& s, const std::array<uint8_t, 32>& s_pub, std::span<const uint8_t> prologue);

  void mix_hash(std::span<const uint8_t> data);
  void mix_key(const Secret<32>& input_key_material);
  bool dh(const Secret<32>& secret, const std::array<uint8_t, 32>& pub);  // then mix_key
  void encrypt_and_hash(std::span<const uint8_t> plaintext, std::vector<uint8_t>& out);
  bool decrypt_and_hash(std::span<const uint8_t> ciphertext, std::vector<uint8_t>& out);
  void make_e();
  void write_e(std::vector<uint8_t>& out);
  bool read_e(std::span<const uint8_t> message);
  [[noreturn]] void misuse(const char* what);

  bool initiator_;
  int step_ = 0;                                // messages processed so far
  internal::MoveResetBool<true> dead_ = false;  // a moved-from handshake is dead
  bool split_done_ = false;
  bool has_e_ = false;
  bool has_rs_ = false;
  Secret<32> s_;
  std::array<uint8_t, 32> s_pub_{};
  Secret<32> e_;
  std::array<uint8_t, 32> e_pub_{};
  std::array<uint8_t, 32> rs_{};
  std::array<uint8_t, 32> re_{};
  Secret<32> ck_;
  std::array<uint8_t, 32> h_{};
  CipherState cs_;
};

}  // namespace vatic::captp
