#include "captp/internal/crypto/frame.h"

#include <cstring>

#include "vat/error.h"
#include "vat/utf8.h"

namespace vatic::captp {
namespace {

constexpr std::size_t kPrefixBytes = kFrameLengthBytes + kFrameHeaderBytes;

bool is_known_kind(uint8_t kind) {
  return kind == static_cast<uint8_t>(FrameKind::data) || kind == static_cast<uint8_t>(FrameKind::close) ||
         kind == static_cast<uint8_t>(FrameKind::ping);
}

[[noreturn]] void caller_bug(const std::string& what) {
  throw_error(ErrorKind::failed, "FrameSealer: " + what + " (caller bug)");
}

// What the sender must never produce; checked before `out` is touched, so a
// throw leaves the caller's buffer as it was.
void check_outgoing(FrameKind kind, std::span<const uint8_t> payload) {
  if (!is_known_kind(static_cast<uint8_t>(kind))) {
    caller_bug("unknown frame kind " + std::to_string(static_cast<unsigned>(kind)));
  }
  if (payload.size() > kDefaultMaxFrame - kMinFrame) {
    caller_bug("payload of " + std::to_string(payload.size()) + " bytes exceeds the frame limit");
  }
  if (kind == FrameKind::close && payload.size() > kMaxCloseReason) caller_bug("close reason longer than 256 bytes");
  if (kind == FrameKind::close && !utf8::is_valid(payload)) caller_bug("close reason is not valid UTF-8");
  if (kind == FrameKind::ping && !payload.empty()) caller_bug("ping frames carry no payload");
}

}  // namespace

bool is_valid_utf8(std::span<const uint8_t> s) { return utf8::is_valid(s); }

// ---- FrameSealer ----------------------------------------------------------

FrameSealer::FrameSealer(CipherState cs, uint64_t rekey_every) : cs_(std::move(cs)), rekey_every_(rekey_every) {
  if (!cs_.has_key()) caller_bug("constructed from a CipherState without a key");
  if (rekey_every_ == 0) caller_bug("rekey_every must be positive");
}

void FrameSealer::seal(FrameKind kind, std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
  check_outgoing(kind, payload);
  const std::size_t start = out.size();
  out.resize(start + kPrefixBytes);
  out.insert(out.end(), payload.begin(), payload.end());
  seal_in_place(kind, out, start);
}

void FrameSealer::seal_in_place(FrameKind kind, std::vector<uint8_t>& buf, std::size_t frame_start) {
  if (frame_start > buf.size() || buf.size() - frame_start < kPrefixBytes) {
    caller_bug("seal_in_place without the 12 bytes reserved for length and header");
  }
  check_outgoing(kind, std::span<const uint8_t>(buf).subspan(frame_start + kPrefixBytes));
  buf.resize(buf.size() + kTagBytes);  // may reallocate: take pointers only after
  seal_frame(kind, std::span<uint8_t>(buf).subspan(frame_start));
}

void FrameSealer::seal_frame(FrameKind kind, std::span<uint8_t> whole) {
  if (whole.size() < kPrefixBytes + kTagBytes) caller_bug("seal_frame without room for length, header and tag");
  const std::size_t payload_size = whole.size() - kPrefixBytes - kTagBytes;
  check_outgoing(kind, whole.subspan(kPrefixBytes, payload_size));
  if (cs_.nonce() == kNoiseReservedNonce) caller_bug("nonce exhausted: the connection must be replaced");

  const auto L = static_cast<uint32_t>(kFrameHeaderBytes + payload_size + kTagBytes);
  uint8_t* frame = whole.data();
  encode_frame_length(L, frame);
  uint8_t* plaintext = frame + kFrameLengthBytes;
  plaintext[0] = static_cast<uint8_t>(kind);
  std::memset(plaintext + 1, 0, kFrameHeaderBytes - 1);
  // handshake.md "Frames": the length prefix is the associated data.
  cs_.encrypt_with_ad({frame, kFrameLengthBytes}, {plaintext, kFrameHeaderBytes + payload_size}, plaintext);
  // handshake.md "Rekeying": count frames, not bytes, so both ends agree.
  if (++frames_ % rekey_every_ == 0) cs_.rekey();
}

// ---- FrameOpener ----------------------------------------------------------

FrameOpener::FrameOpener(CipherState cs, uint32_t max_frame, uint64_t rekey_every)
    : cs_(std::move(cs)), max_frame_(max_frame), rekey_every_(rekey_every) {
  if (!cs_.has_key()) throw_error(ErrorKind::failed, "FrameOpener: CipherState without a key (caller bug)");
  if (max_frame_ < kMinFrame) throw_error(ErrorKind::failed, "FrameOpener: max_frame below 24 bytes (caller bug)");
  if (rekey_every_ == 0) throw_error(ErrorKind::failed, "FrameOpener: rekey_every must be positive (caller bug)");
}

Result<void> FrameOpener::check_length(uint32_t L) const {
  if (L < kMinFrame) {
    return refuse("frame length " + std::to_string(L) + " is below the minimum of " + std::to_string(kMinFrame) +
                  " bytes");
  }
  if (L > max_frame_) {
    return refuse("frame length " + std::to_string(L) + " exceeds the maximum of " + std::to_string(max_frame_) +
                  " bytes");
  }
  return {};
}

Refusal FrameOpener::fail(std::string reason) {
  if (error_.empty()) error_ = reason;
  return refuse(std::move(reason));
}

Result<FrameOpener::Opened> FrameOpener::open_in_place(const uint8_t length_be[kFrameLengthBytes], uint8_t* ciphertext,
                                                       std::size_t L) {
  if (dead()) return refuse("frame opener is dead after an earlier error: " + error_);
  const uint32_t declared = decode_frame_length(length_be);
  if (declared != L) {
    return fail("length prefix says " + std::to_string(declared) + " bytes but " + std::to_string(L) + " were passed");
  }
  if (auto ok = check_length(declared); !ok) return fail(ok.error());
  if (cs_.nonce() == kNoiseReservedNonce) return fail("nonce exhausted: the peer sent 2^64-1 frames");
  if (!cs_.decrypt_with_ad({length_be, kFrameLengthBytes}, {ciphertext, L}, ciphertext)) {
    return fail("frame authentication failed");
  }
  if (++frames_ % rekey_every_ == 0) cs_.rekey();

  // Past this point the peer holds the key: these are protocol violations by
  // an authenticated (buggy or hostile) vat, not tampering on the path.
  const uint8_t kind = ciphertext[0];
  if (!is_known_kind(kind)) return fail("unknown frame kind " + std::to_string(kind));
  for (std::size_t i = 1; i < kFrameHeaderBytes; ++i) {
    if (ciphertext[i] != 0) return fail("nonzero reserved header bytes");
  }
  const std::size_t payload_size = L - kMinFrame;
  const std::span<const uint8_t> payload(ciphertext + kFrameHeaderBytes, payload_size);
  switch (static_cast<FrameKind>(kind)) {
    case FrameKind::close:
      if (payload_size > kMaxCloseReason) return fail("close reason longer than 256 bytes");
      if (!utf8::is_valid(payload)) return fail("close reason is not valid UTF-8");
      break;
    case FrameKind::ping:
      if (payload_size != 0) return fail("ping frame carries " + std::to_string(payload_size) + " payload bytes");
      break;
    case FrameKind::data: break;
  }
  return Opened{static_cast<FrameKind>(kind), kFrameHeaderBytes, payload_size};
}

}  // namespace vatic::captp
