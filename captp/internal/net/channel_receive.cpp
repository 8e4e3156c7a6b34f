// SecureChannel, receiving: read the stream into one aligned buffer, check each
// frame's length before making room for it, decrypt in place, hand data
// payloads to the session without copying them out.
#include "captp/internal/net/channel.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

#include <boost/asio/post.hpp>

namespace vatic::captp {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kReadChunk = 64 << 10;  // bytes asked of each read_some, at least
// A read buffer up to this size is kept when empty after a large frame (see
// make_read_room).
constexpr std::size_t kKeepReadCapacity = 4 << 20;
// Where the first unprocessed frame is put when the buffer is compacted: its
// ciphertext then starts at offset 8, so its payload (after the 8-byte header)
// is 8-byte aligned with no move at all.
constexpr std::size_t kFrameHome = 8 - kFrameLengthBytes;

// The close reason is valid UTF-8 (the opener checked); control characters
// still must not reach logs as they are.
std::string printable(const std::uint8_t* p, std::size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  return s;
}

}  // namespace

void SecureChannel::pause_reading() { paused_ = true; }

void SecureChannel::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  last_rx_ = alarms_->now();
  // Later, not now: the caller may be inside on_data.
  if (started_ && state_ == State::open) post_process();
}

void SecureChannel::post_process() {
  if (process_posted_) return;
  process_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->process_posted_ = false;
    self->process();
  });
}

void SecureChannel::read() {
  if (reading_ || paused_ || !started_ || state_ != State::open) return;
  make_read_room();
  reading_ = true;
  std::size_t room = rcapacity() - rtail_;
  std::size_t unprocessed = rtail_ - rhead_;
  if (unprocessed >= kFrameLengthBytes) {
    // A large frame is read up to its end and no further: the next frame then
    // starts a read of its own at kFrameHome (aligned, nothing to move), instead
    // of arriving as a partial tail that make_read_room must move, or a
    // misaligned payload that dispatch_frame must shift. Costs at most one
    // more read per large frame.
    std::size_t frame_bytes = kFrameLengthBytes + decode_frame_length(rbytes() + rhead_);
    if (frame_bytes >= kReadChunk && frame_bytes > unprocessed) room = std::min(room, frame_bytes - unprocessed);
  }
  stream_->async_read_some(
      asio::buffer(rbytes() + rtail_, room),
      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

// Makes room for the rest of the unprocessed bytes (at most one partial
// frame), moving them to kFrameHome first unless they already start there.
// Its length was checked in process() before we get here, so a peer cannot
// make us allocate more than max_frame.
void SecureChannel::make_read_room() {
  std::size_t unprocessed = rtail_ - rhead_;
  // A buffer grown by large frames is kept while they keep coming (up to
  // kKeepReadCapacity): regrowing a vector zero-fills it, and bulk transfers
  // send frame after large frame. It is given back when empty after a
  // larger frame still, or after a small frame (a ping, a call): otherwise
  // one large frame would pin megabytes for the life of every idle session,
  // which a peer per connection could use to exhaust memory.
  if (unprocessed == 0 && rcapacity() > kFrameHome + kReadChunk + sizeof(std::uint64_t) &&
      (rcapacity() > kKeepReadCapacity || !last_frame_large_)) {
    rbuf_.clear();
    rbuf_.shrink_to_fit();
  }
  if (rhead_ != kFrameHome) {
    if (unprocessed > 0) std::memmove(rbytes() + kFrameHome, rbytes() + rhead_, unprocessed);
    rhead_ = kFrameHome;
    rtail_ = kFrameHome + unprocessed;
  }
  std::size_t want = kFrameHome + kReadChunk;
  if (unprocessed >= kFrameLengthBytes) {
    // Grow with what arrives, not with what the peer announces: a peer that
    // declares 16 MiB frames and then trickles bytes holds at most twice what
    // it actually sent.
    std::size_t frame_end = kFrameHome + kFrameLengthBytes + decode_frame_length(rbytes() + rhead_);
    want = std::max(want, std::min(frame_end, 2 * rtail_));
  }
  if (rcapacity() < want) rbuf_.resize((want + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
}

void SecureChannel::on_read(boost::system::error_code ec, std::size_t n) {
  reading_ = false;
  if (state_ != State::open) return;
  if (ec) {
    std::size_t have = rtail_ - rhead_;
    if (ec != asio::error::eof) return fail({ErrorKind::disconnected, "connection lost: " + ec.message()});
    if (have == 0) return fail({ErrorKind::disconnected, "connection closed by peer"});
    std::size_t need =
        have < kFrameLengthBytes ? kFrameLengthBytes : kFrameLengthBytes + decode_frame_length(rbytes() + rhead_);
    return fail({ErrorKind::disconnected, "connection closed by peer in the middle of a frame (" +
                                              std::to_string(have) + " of " + std::to_string(need) + " bytes)"});
  }
  last_rx_ = alarms_->now();
  rtail_ += n;
  process();
}

// Opens every whole frame in the buffer, in order, until the buffer runs out,
// the session pauses, or the channel ends; then reads again.
void SecureChannel::process() {
  if (state_ != State::open) return;
  dispatching_ = true;
  while (state_ == State::open && !paused_ && rtail_ - rhead_ >= kFrameLengthBytes) {
    std::uint8_t* frame = rbytes() + rhead_;
    const std::uint32_t length = decode_frame_length(frame);
    auto frame_no = std::to_string(opener_.frames_opened() + 1);
    // handshake.md "Frames": the length is checked before anything is allocated for it.
    if (auto fits = opener_.check_length(length); !fits) {
      fail({ErrorKind::failed, "frame " + frame_no + ": " + fits.error()});
      break;
    }
    if (rtail_ - rhead_ < kFrameLengthBytes + length) break;
    auto opened = opener_.open_in_place(frame, frame + kFrameLengthBytes, length);
    if (!opened) {
      fail({ErrorKind::failed, "frame " + frame_no + ": " + opened.error()});
      break;
    }
    rhead_ += kFrameLengthBytes + length;
    last_frame_large_ = length > kReadChunk;
    const auto& o = *opened;
    dispatch_frame(o.kind, frame + kFrameLengthBytes + o.payload_offset, o.payload_size);
  }
  dispatching_ = false;
  if (state_ != State::open) {
    on_data_ = nullptr;  // deliver_closed left it while on_data ran
    return;
  }
  read();
}

// False once the channel ended.
bool SecureChannel::dispatch_frame(FrameKind kind, std::uint8_t* payload, std::size_t size) {
  switch (kind) {
    case FrameKind::data: {
      if (size == 0 || !on_data_) return true;
      // Frames follow each other at 4-byte granularity, so every other payload
      // lands 4 bytes off. Moving it down into its own (already read) header is
      // a memmove within cache-hot memory and keeps the promise of alignment.
      auto off = reinterpret_cast<std::uintptr_t>(payload) % alignof(std::uint64_t);
      if (off != 0) {
        std::memmove(payload - off, payload, size);
        payload -= off;
      }
      on_data_(std::span<const std::uint8_t>(payload, size));
      return state_ == State::open;
    }
    case FrameKind::ping: return true;  // its arrival already counted as life (last_rx_)
    case FrameKind::close: fail({ErrorKind::disconnected, "peer closed: " + printable(payload, size)}); return false;
  }
  fail({ErrorKind::failed, "frame of unknown kind " + std::to_string(static_cast<unsigned>(kind))});
  return false;
}

}  // namespace vatic::captp
