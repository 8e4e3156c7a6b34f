// libFuzzer target: the transport frames (captp/internal/crypto/frame.h) as the
// channel's reader sees them. Modes (fuzz_common.h):
//   kRawStream  the bytes are the stream: length prefixes, frames, anything.
//   kRecords    chunks [kind, reserved, payload...] sealed with the real key,
//               also headers FrameSealer refuses: the opener must accept
//               exactly the well-formed ones, with their payload.
//   kTampered   chunk 0: a count n, then n chunks of payloads sealed as data
//               frames; the rest: (u16 offset, u8 xor) edits of the stream.
//               No frame touched by an edit may ever be delivered.
//   kUtf8       is_valid_utf8 against an independent table-driven check.
// Any violated expectation aborts (a finding), as does any sanitizer report.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "captp/internal/crypto/frame.h"
#include "tests/fuzz/fuzz_common.h"
#include "vat/error.h"

namespace vatic::fuzz {
namespace {

using captp::CipherState;
using captp::FrameKind;
using captp::FrameOpener;
using captp::FrameSealer;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_frame: expectation failed: %s\n", what);
    std::abort();
  }
}

FrameOpener opener() {
  return FrameOpener(CipherState(fixed_key(kFrameKey)), captp::kDefaultMaxFrame, kFrameRekeyEvery);
}

// Unicode 3-7 "well-formed UTF-8 byte sequences", as a table of byte ranges.
bool reference_utf8(std::span<const std::uint8_t> s) {
  struct Row {
    std::uint8_t lo[4], hi[4];
    int n;
  };
  static constexpr Row kRows[] = {
      {{0x00}, {0x7F}, 1},
      {{0xC2, 0x80}, {0xDF, 0xBF}, 2},
      {{0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}, 3},
      {{0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}, 3},
      {{0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}, 3},
      {{0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}, 3},
      {{0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}, 4},
      {{0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}, 4},
      {{0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}, 4},
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const Row* match = nullptr;
    for (const Row& r : kRows) {
      if (s[i] < r.lo[0] || s[i] > r.hi[0] || s.size() - i < static_cast<std::size_t>(r.n)) continue;
      bool ok = true;
      for (int k = 1; k < r.n; ++k) ok = ok && s[i + k] >= r.lo[k] && s[i + k] <= r.hi[k];
      if (ok) match = &r;
    }
    if (!match) return false;
    i += static_cast<std::size_t>(match->n);
  }
  return true;
}

// A whole frame as the peer holding the key may write it: any kind, any header.
Bytes raw_frame(CipherState& cs, std::uint8_t kind, std::uint8_t reserved, std::span<const std::uint8_t> payload) {
  Bytes f(captp::kFrameLengthBytes + captp::kFrameHeaderBytes + payload.size() + captp::kTagBytes, 0);
  captp::encode_frame_length(static_cast<std::uint32_t>(f.size() - captp::kFrameLengthBytes), f.data());
  f[4] = kind;
  f[5 + reserved % 7] = static_cast<std::uint8_t>(reserved / 7);  // reserved 0..6: all header bytes zero
  if (!payload.empty()) std::memcpy(f.data() + 12, payload.data(), payload.size());
  cs.encrypt_with_ad({f.data(), 4}, {f.data() + 4, captp::kFrameHeaderBytes + payload.size()}, f.data() + 4);
  return f;
}

bool well_formed(std::uint8_t kind, std::uint8_t reserved, std::span<const std::uint8_t> payload) {
  if (reserved >= 7) return false;
  switch (kind) {
    case 1: return true;
    case 2: return payload.size() <= captp::kMaxCloseReason && reference_utf8(payload);
    case 3: return payload.empty();
    default: return false;
  }
}

struct Delivered {
  std::size_t start, end;  // the frame's bytes in the stream, prefix included
  FrameKind kind;
  Bytes payload;
};

// Opens frames off the front of `stream` the way the channel does (length
// checked before anything else, then authenticated in place in an aligned
// buffer), until the stream ends or the opener refuses one.
std::vector<Delivered> read_stream(FrameOpener& o, std::span<const std::uint8_t> stream, bool* refused) {
  std::vector<Delivered> out;
  *refused = false;
  std::size_t at = 0;
  std::vector<std::uint64_t> aligned;
  while (stream.size() - at >= captp::kFrameLengthBytes) {
    const std::uint8_t* prefix = stream.data() + at;
    const std::uint32_t L = captp::decode_frame_length(prefix);
    if (!o.check_length(L)) {
      *refused = true;
      break;
    }
    if (stream.size() - at - captp::kFrameLengthBytes < L) break;  // the stream ends inside the frame
    aligned.assign((L + 7) / 8, 0);
    auto* ct = reinterpret_cast<std::uint8_t*>(aligned.data());
    std::memcpy(ct, prefix + captp::kFrameLengthBytes, L);
    auto r = o.open_in_place(prefix, ct, L);
    if (!r) {
      require(o.dead(), "an opener that refused a frame stays dead");
      require(!o.open_in_place(prefix, ct, L), "a dead opener refuses everything");
      *refused = true;
      break;
    }
    const auto& opened = *r;
    require(opened.payload_offset == captp::kFrameHeaderBytes, "payload at offset 8");
    require(opened.payload_size == L - captp::kMinFrame, "payload size is L - 24");
    const std::uint8_t* p = ct + opened.payload_offset;
    out.push_back({at, at + captp::kFrameLengthBytes + L, opened.kind, Bytes(p, p + opened.payload_size)});
    at += captp::kFrameLengthBytes + L;
  }
  return out;
}

void raw_stream(std::span<const std::uint8_t> in) {
  FrameOpener o = opener();
  bool refused = false;
  read_stream(o, in, &refused);
}

void records(std::span<const std::uint8_t> in) {
  CipherState cs(fixed_key(kFrameKey));
  FrameSealer sealer(CipherState(fixed_key(kFrameKey)), kFrameRekeyEvery);
  bool sealer_in_step = true;  // the sealer has sealed exactly the frames so far
  std::uint64_t sealed = 0;
  Bytes stream;
  std::vector<bool> good;
  std::vector<Bytes> payloads;
  Chunks chunks(in);
  while (auto c = chunks.next()) {
    if (c->size() < 2) continue;
    const std::uint8_t kind = (*c)[0], reserved = (*c)[1];
    auto payload = c->subspan(2);
    Bytes frame = raw_frame(cs, kind, reserved, payload);
    if (++sealed % kFrameRekeyEvery == 0) cs.rekey();
    const bool ok = well_formed(kind, reserved, payload);
    if (sealer_in_step && reserved < 7) {
      Bytes by_sealer;
      try {
        sealer.seal(static_cast<FrameKind>(kind), payload, by_sealer);
        require(ok, "FrameSealer seals only well-formed frames");
        require(by_sealer == frame, "FrameSealer writes the documented format");
      } catch (const VatError&) {
        require(!ok, "FrameSealer refuses only malformed frames");
        sealer_in_step = false;
      }
    } else {
      sealer_in_step = false;
    }
    stream.insert(stream.end(), frame.begin(), frame.end());
    good.push_back(ok);
    payloads.emplace_back(payload.begin(), payload.end());
  }
  FrameOpener o = opener();
  bool refused = false;
  auto got = read_stream(o, stream, &refused);
  std::size_t first_bad = 0;
  while (first_bad < good.size() && good[first_bad]) ++first_bad;
  require(got.size() == first_bad, "every well-formed frame up to the first malformed one is delivered");
  require(refused == (first_bad < good.size()), "the first malformed frame is refused");
  for (std::size_t i = 0; i < got.size(); ++i) require(got[i].payload == payloads[i], "payloads arrive intact");
}

void tampered(std::span<const std::uint8_t> in) {
  Chunks chunks(in);
  auto count = chunks.next();
  std::size_t n = count && !count->empty() ? (*count)[0] : 0;
  FrameSealer sealer(CipherState(fixed_key(kFrameKey)), kFrameRekeyEvery);
  Bytes stream;
  std::vector<Bytes> payloads;
  for (std::size_t i = 0; i < n; ++i) {
    auto c = chunks.next();
    if (!c) break;
    sealer.seal(FrameKind::data, *c, stream);
    payloads.emplace_back(c->begin(), c->end());
  }
  Bytes edited = stream;
  auto edits = chunks.rest();
  for (std::size_t i = 0; i + 3 <= edits.size() && !edited.empty(); i += 3) {
    std::size_t off = (edits[i] | (std::size_t{edits[i + 1]} << 8)) % edited.size();
    edited[off] ^= edits[i + 2];
  }
  FrameOpener o = opener();
  bool refused = false;
  auto got = read_stream(o, edited, &refused);
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    require(got[i].start == at, "frames are delivered where they were sealed");
    for (std::size_t b = got[i].start; b < got[i].end; ++b)
      require(edited[b] == stream[b], "an edited frame was delivered");
    require(got[i].payload == payloads[i], "a delivered frame is the one sealed there");
    at = got[i].end;
  }
}

void utf8(std::span<const std::uint8_t> in) {
  require(captp::is_valid_utf8(in) == reference_utf8(in), "is_valid_utf8 agrees with Unicode table 3-7");
}

}  // namespace
}  // namespace vatic::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vatic::fuzz;
  if (size == 0) return 0;
  std::span<const std::uint8_t> in(data + 1, size - 1);
  switch (data[0] % kFrameModes) {
    case kRawStream: raw_stream(in); break;
    case kRecords: records(in); break;
    case kTampered: tampered(in); break;
    case kUtf8: utf8(in); break;
  }
  return 0;
}
