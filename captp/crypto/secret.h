// Secret: key material that must not outlive its use. Private keys, shared
// secrets and symmetric keys live only in these fixed-size buffers, which wipe
// themselves (sodium_memzero, which the compiler may not elide) when destroyed
// and when moved from, so that a freed or moved-from object never leaves a key
// behind in memory. Copies are explicit (`copy()`) so each one shows in review.
// A Secret is a value: whoever holds it owns it; it has no thread affinity.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace vatic::captp {

// Initialises libsodium once per process (thread-safe); throws VatError if the
// library cannot start (no usable randomness). Every entry point of captp/crypto
// calls it, so callers need not.
void ensure_sodium();

namespace internal {
// sodium_memzero, kept out of this header so that it does not pull in <sodium.h>.
void wipe(void* p, std::size_t n) noexcept;
}  // namespace internal

template <std::size_t N>
class Secret {
 public:
  Secret() noexcept { bytes_.fill(0); }
  ~Secret() { internal::wipe(bytes_.data(), N); }

  Secret(Secret&& other) noexcept : bytes_(other.bytes_) { internal::wipe(other.bytes_.data(), N); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      internal::wipe(other.bytes_.data(), N);
    }
    return *this;
  }
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  // Copies the bytes in (the caller remains responsible for wiping its source).
  static Secret from(std::span<const uint8_t, N> bytes) {
    Secret s;
    for (std::size_t i = 0; i < N; ++i) s.bytes_[i] = bytes[i];
    return s;
  }

  Secret copy() const {
    Secret s;
    s.bytes_ = bytes_;
    return s;
  }

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr std::size_t size() { return N; }
  std::span<const uint8_t, N> span() const { return std::span<const uint8_t, N>(bytes_); }

 private:
  std::array<uint8_t, N> bytes_;
};

}  // namespace vatic::captp
