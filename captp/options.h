// The knobs of a CapTP node and what it reports: the options of the secure
// channel (handshake and idle deadlines, frame size, rekeying) and of a session
// (flow-control bounds, the cancellation sweep), and a session's counters.
// Plain values, any thread; spec/handshake.md and spec/captp.md say what each
// bound means on the wire.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "vat/clock.h"

namespace vatic::captp {

// The largest frame length (L) accepted by default, and the frames sealed under
// one key per direction before both sides rekey (spec/handshake.md, "Frames").
inline constexpr std::uint32_t kDefaultMaxFrame = 16 << 20;
inline constexpr std::uint64_t kDefaultRekeyEvery = 1 << 16;

struct ChannelOptions {
  Duration handshake_timeout = std::chrono::seconds(10);
  // No byte at all received for this long ends the channel (zero: never). We
  // send a ping whenever we sent nothing for a third of it, so a quiet but live
  // peer using the same option is never cut off; reading paused by the session
  // does not count as idle.
  Duration idle_timeout = std::chrono::seconds(30);
  // The largest frame (L) we accept, and the largest we send (capped at
  // kDefaultMaxFrame, the most a FrameSealer seals). Both ends must agree.
  std::uint32_t max_frame = kDefaultMaxFrame;
  // Frames per key and direction; both ends must agree (spec/handshake.md).
  std::uint64_t rekey_every = kDefaultRekeyEvery;
  // How long close() may spend sending what is pending and the close frame to
  // a peer that does not read, before the stream is shut anyway.
  Duration close_linger = std::chrono::seconds(2);
  // Whether the hello offers the `handoff` feature (and so states version
  // 1.1; spec/handshake.md "Version and features"). A Node sets it from
  // SessionOptions::handoff; a lone channel (tests) may set it itself.
  bool offer_handoff = false;
};

struct SessionOptions {
  // Half the bound on calls from the peer not yet answered: a call read while
  // twice this many are unanswered is answered `overloaded` without being
  // delivered. Calls are never held back and the session never stops reading
  // (spec/captp.md 7).
  std::uint32_t max_answers = 1 << 14;
  // Bytes queued for a peer that does not read; beyond this the session aborts.
  std::size_t max_unsent_bytes = 64u << 20;
  // Our own calls awaiting answers; beyond this new calls break `overloaded`.
  std::size_t max_questions = 1 << 20;
  // Paths into one pending answer that our calls went along, kept until the
  // answer returns (spec/captp.md 5, "One path, one record"); a call along
  // one more breaks `overloaded` (spec/captp.md 7, Sending).
  std::uint32_t max_kept_paths = 4096;
  // How often promises nobody holds any more are canceled (finish is sent).
  Duration cancel_sweep = std::chrono::milliseconds(100);

  // Three-party handoff (spec/captp.md 11): offered in the hello, and spoken
  // where the peer offers it too. Off, the node only ever proxies (section 4)
  // and a peer sees a 1.0 vat (11.10): for a peer that must not learn the
  // vat ids and addresses of this vat's other peers, or a vat that must not
  // open connections on an introducer's word (see also
  // NodeOptions::max_handoff_dials).
  bool handoff = true;
  // spec/captp.md 11.8: provisions one peer has here (the oldest ends first
  // beyond it), and how long each lives from its provide's arrival.
  std::size_t max_provisions = 1024;
  Duration provision_ttl = std::chrono::seconds(60);
  // Accepts of one peer waiting for their provide (one more is refused
  // `overloaded`), and how long each waits.
  std::size_t max_waiting_accepts = 64;
  Duration accept_wait = std::chrono::seconds(20);
};

// One session's table sizes and message counts (spec/admin.md, "sessions").
struct SessionStats {
  std::size_t exports = 0, imports = 0, questions = 0, answers = 0, embargoes = 0;
  std::uint64_t messages_in = 0, messages_out = 0;
  // spec/captp.md 11.9, with `handoff` negotiated: provisions the peer has
  // here (H8), its accepts waiting for a provide (H10), descriptors from the
  // peer whose handoff completed (H11) or fell back to the vine (H12), and the
  // reason of the last fallback.
  std::size_t provisions = 0, waiting_accepts = 0;
  std::uint64_t handoffs = 0, handoff_fallbacks = 0;
  std::string last_handoff_fallback;
};

}  // namespace vatic::captp
