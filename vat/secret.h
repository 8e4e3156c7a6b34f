// Secret<N>: key material that must not outlive its use. Private keys, shared
// secrets, master and object keys live only in these fixed-size buffers, which
// wipe themselves (sodium_memzero, which the compiler may not elide) when
// destroyed and when moved from, so that a freed or moved-from object never
// leaves a key behind in memory. Copies are explicit (`copy()`) so each one
// shows in review. Fresh secrets come from libsodium's system randomness
// (`random()`), never from anything seeded by the program.
//
// The one secret type of every layer (the handshake's keys in captp/, the
// token keys in caps/, the store's master key in sturdyrefs/). A Secret is a
// value: whoever holds it owns it; it has no thread affinity.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace vatic {

// Initialises libsodium once per process (thread-safe); throws VatError if the
// library cannot start (no usable randomness). Every function that needs
// libsodium calls it, so callers need not.
void ensure_sodium();

namespace detail {
// sodium_memzero and randombytes_buf, kept out of this header so that it does
// not pull in <sodium.h>.
void wipe(void* p, std::size_t n) noexcept;
void fill_random(void* p, std::size_t n);
}  // namespace detail

template <std::size_t N>
class Secret {
 public:
  Secret() noexcept { bytes_.fill(0); }
  ~Secret() { detail::wipe(bytes_.data(), N); }

  Secret(Secret&& other) noexcept : bytes_(other.bytes_) { detail::wipe(other.bytes_.data(), N); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      detail::wipe(other.bytes_.data(), N);
    }
    return *this;
  }
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  // N bytes from libsodium's system randomness.
  static Secret random() {
    Secret s;
    detail::fill_random(s.bytes_.data(), N);
    return s;
  }

  // Copies the bytes in (the caller remains responsible for wiping its source).
  static Secret from(std::span<const std::uint8_t, N> bytes) {
    Secret s;
    for (std::size_t i = 0; i < N; ++i) s.bytes_[i] = bytes[i];
    return s;
  }

  Secret copy() const { return from(span()); }

  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  static constexpr std::size_t size() noexcept { return N; }
  std::span<const std::uint8_t, N> span() const noexcept { return std::span<const std::uint8_t, N>(bytes_); }

 private:
  std::array<std::uint8_t, N> bytes_;
};

}  // namespace vatic
