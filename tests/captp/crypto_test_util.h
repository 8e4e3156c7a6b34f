// Helpers shared by the captp/crypto tests (and tests/attacks): hex and base32
// codecs for test vectors, random secrets, and a frame reader that models the
// stream code (length prefix, check_length, then an aligned read).
#pragma once

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "captp/internal/crypto/frame.h"
#include "vat/secret.h"

namespace vatic::captp::test {

inline std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  size_t len = 0;
  EXPECT_EQ(sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &len, nullptr), 0) << hex;
  out.resize(len);
  return out;
}

inline std::string to_hex(std::span<const uint8_t> bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

template <std::size_t N>
std::array<uint8_t, N> array_from_hex(std::string_view hex) {
  auto v = from_hex(hex);
  std::array<uint8_t, N> out{};
  EXPECT_EQ(v.size(), N);
  for (std::size_t i = 0; i < N && i < v.size(); ++i) out[i] = v[i];
  return out;
}

template <std::size_t N>
Secret<N> secret_from_hex(std::string_view hex) {
  auto a = array_from_hex<N>(hex);
  return Secret<N>::from(a);
}

template <std::size_t N>
Secret<N> random_secret() {
  ensure_sodium();
  Secret<N> s;
  randombytes_buf(s.data(), N);
  return s;
}

inline std::vector<uint8_t> random_bytes(std::size_t n) {
  ensure_sodium();
  std::vector<uint8_t> v(n);
  randombytes_buf(v.data(), n);
  return v;
}

// Lowercase RFC 4648 base32 without padding (input bits a multiple of 5).
inline std::string base32(std::span<const uint8_t> bytes) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kAlphabet[(acc >> bits) & 31]);
    }
    acc &= (1u << bits) - 1;
  }
  return out;
}

// Two ends of one direction, sharing a random key.
struct FramePair {
  FrameSealer sealer;
  FrameOpener opener;
};

inline FramePair frame_pair(uint64_t rekey_every = kDefaultRekeyEvery, uint32_t max_frame = kDefaultMaxFrame) {
  auto key = random_secret<32>();
  return FramePair{FrameSealer(CipherState(key.copy()), rekey_every),
                   FrameOpener(CipherState(key.copy()), max_frame, rekey_every)};
}

// What a frame delivered: its kind and payload, or the reason it was refused.
struct Delivered {
  FrameKind kind;
  std::vector<uint8_t> payload;
  bool aligned;  // the payload started on an 8-byte boundary
};
using Outcome = std::variant<Delivered, std::string>;

inline bool is_error(const Outcome& o) { return std::holds_alternative<std::string>(o); }
inline std::string error_of(const Outcome& o) { return is_error(o) ? std::get<std::string>(o) : "(accepted)"; }

// Reads frames off `stream` as the stream code does: the 4-byte prefix, then
// check_length before allocating, then L bytes into an 8-byte-aligned buffer.
// Stops after the first error; a stream that ends inside a frame is an error.
inline std::vector<Outcome> drain(FrameOpener& opener, std::span<const uint8_t> stream) {
  std::vector<Outcome> out;
  std::size_t at = 0;
  while (at < stream.size()) {
    if (stream.size() - at < kFrameLengthBytes) {
      out.emplace_back(std::string("stream ended inside a length prefix"));
      return out;
    }
    const uint8_t* prefix = stream.data() + at;
    const uint32_t L = decode_frame_length(prefix);
    if (auto fits = opener.check_length(L); !fits) {
      out.emplace_back(fits.error());
      return out;
    }
    if (stream.size() - at - kFrameLengthBytes < L) {
      out.emplace_back(std::string("stream ended inside a frame"));
      return out;
    }
    std::vector<uint64_t> storage((L + 7) / 8);  // 8-byte aligned
    auto* buf = reinterpret_cast<uint8_t*>(storage.data());
    std::memcpy(buf, prefix + kFrameLengthBytes, L);
    auto r = opener.open_in_place(prefix, buf, L);
    if (!r) {
      out.emplace_back(r.error());
      return out;
    }
    const auto& o = *r;
    const uint8_t* p = buf + o.payload_offset;
    out.emplace_back(
        Delivered{o.kind, std::vector<uint8_t>(p, p + o.payload_size), reinterpret_cast<std::uintptr_t>(p) % 8 == 0});
    at += kFrameLengthBytes + L;
  }
  return out;
}

// One frame through drain(); a stream holding exactly one frame.
inline Outcome open_one(FrameOpener& opener, std::span<const uint8_t> frame) {
  auto all = drain(opener, frame);
  if (all.empty()) return std::string("no frame");
  return all.front();
}

// A frame with an arbitrary plaintext (header included), as only a peer
// holding the key can make: models an authenticated but hostile vat.
inline std::vector<uint8_t> rogue_frame(CipherState& cs, std::span<const uint8_t> plaintext) {
  const auto L = static_cast<uint32_t>(plaintext.size() + kTagBytes);
  std::vector<uint8_t> frame(kFrameLengthBytes + L);
  encode_frame_length(L, frame.data());
  cs.encrypt_with_ad(std::span<const uint8_t>(frame).first(kFrameLengthBytes), plaintext,
                     frame.data() + kFrameLengthBytes);
  return frame;
}

inline std::vector<uint8_t> bytes_of(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace vatic::captp::test
