// SecureChannel, sending: coalesce what the session appends during one loop
// iteration into as few frames and writes as serve, double-buffered so that
// appends never wait for (or copy around) a write in flight. Large traffic is
// laid out as frames of about kFrameCut bytes while it is appended and sealed
// frame by frame as it is written, so the peer decrypts one frame while we
// seal the next.
#include "captp/internal/net/channel.h"

#include <algorithm>
#include <span>
#include <utility>

#include <boost/asio/post.hpp>

namespace vatic::captp {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kPrefix = kFrameLengthBytes + kFrameHeaderBytes;  // reserved before each payload
// A frame whose payload reached this size is closed at the next message end;
// later messages go to a new frame. Big enough that the per-frame cost (28
// bytes, one AEAD call, one more read at the peer) does not matter, small
// enough that sealing, writing and the peer's opening overlap.
constexpr std::size_t kFrameCut = 256 << 10;
// Frames are sealed just before they are written, at least this many bytes
// per write: small frames still leave together, large ones one by one.
constexpr std::size_t kWriteChunk = 256 << 10;
// A buffer that grew past this is released once the traffic drains (nothing
// appended while it was written), so one burst of large messages does not pin
// its size per connection forever. While bulk traffic keeps coming it is kept:
// a window of four 1 MiB results fills 8 MiB of capacity, and allocating that
// afresh for every write costs a page fault per 4 KiB (about a quarter of the
// cost of sealing the bytes).
constexpr std::size_t kKeepCapacity = 4 << 20;

void release_if_large(std::vector<std::uint8_t>& buf) {
  if (buf.empty() && buf.capacity() > kKeepCapacity) std::vector<std::uint8_t>().swap(buf);
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

// Layout of out_[i] while it fills: closed frames, each [12-byte prefix |
// payload | 16 bytes for the tag], then the open frame [prefix | payload...]
// up to the end. frames_[i] holds where each unsealed frame starts; bounds_[i]
// the message ends inside the open frame.
std::vector<std::uint8_t>& SecureChannel::begin_append() {
  auto& buf = out_[fill_];
  if (buf.empty()) {
    buf.resize(kPrefix);
    frames_[fill_].assign(1, 0);
  }
  return buf;
}

void SecureChannel::end_message() {
  auto& buf = out_[fill_];
  auto& ends = bounds_[fill_];
  auto& frames = frames_[fill_];
  if (buf.empty()) return;
  std::size_t payload_start = frames.back() + kPrefix;
  std::size_t start = ends.empty() ? payload_start : ends.back();
  std::size_t size = buf.size() - start;
  if (size == 0) return;
  if (size > max_payload_) {
    buf.resize(start);
    throw_error(ErrorKind::failed, "message of " + std::to_string(size) + " bytes exceeds the largest frame payload (" +
                                       std::to_string(max_payload_) + " bytes)");
  }
  if (buf.size() - payload_start > max_payload_) {
    // It does not fit behind the messages already in the open frame: close
    // that frame before it. Moves this one message by 28 bytes; only messages
    // close to the frame limit get here.
    buf.insert(buf.begin() + static_cast<std::ptrdiff_t>(start), kTagBytes + kPrefix, 0);
    frames.push_back(start + kTagBytes);
    ends.clear();
    payload_start = frames.back() + kPrefix;
  }
  ends.push_back(buf.size());
  if (buf.size() - payload_start >= std::min(kFrameCut, max_payload_)) {
    buf.resize(buf.size() + kTagBytes + kPrefix);  // close it; the next frame opens here
    frames.push_back(buf.size() - kPrefix);
    ends.clear();
  }
}

std::size_t SecureChannel::pending_bytes() const {
  const auto& buf = out_[fill_];
  if (buf.empty()) return 0;
  std::size_t n = frames_[fill_].size();
  return buf.size() - n * kPrefix - (n - 1) * kTagBytes;
}

std::size_t SecureChannel::unsent_bytes() const { return pending_bytes() + in_flight_; }

void SecureChannel::request_flush() {
  if (flush_posted_ || state_ != State::open) return;
  flush_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

// Writes what is pending (and, while closing, the close frame after it). With
// a write in flight it does nothing: on_written calls it again.
void SecureChannel::flush() {
  if (writing_ || state_ == State::closed) return;
  auto& buf = out_[fill_];
  close_frames(buf, frames_[fill_], bounds_[fill_]);
  bounds_[fill_].clear();
  if (state_ == State::closing && !close_sealed_) {
    // Nothing follows the close frame: seal everything now, in order.
    seal_frames(buf, frames_[fill_], 0, frames_[fill_].size());
    frames_[fill_].clear();
    sealer_.seal(FrameKind::close, bytes_of(close_reason_), buf);
    close_sealed_ = true;
  }
  if (!buf.empty()) start_write();
}

// Ends the open frame: drops it if empty, else gives it room for its tag.
// Bytes appended without end_message may have made it larger than a frame:
// it is then cut at its message ends, or inside a message where there are
// none, through scratch_ (this rare path copies).
void SecureChannel::close_frames(std::vector<std::uint8_t>& buf, std::vector<std::size_t>& frames,
                                 std::vector<std::size_t>& ends) {
  if (buf.empty()) return;
  std::size_t open = frames.back();
  if (buf.size() == open + kPrefix) {  // nothing in it
    buf.resize(open);
    frames.pop_back();
    return;
  }
  if (buf.size() - open - kPrefix <= max_payload_) {
    buf.resize(buf.size() + kTagBytes);
    return;
  }
  if (ends.empty() || ends.back() != buf.size()) ends.push_back(buf.size());  // an unended tail is one message
  scratch_.assign(buf.begin() + static_cast<std::ptrdiff_t>(open + kPrefix), buf.end());
  buf.resize(open);
  frames.pop_back();
  const std::size_t base = open + kPrefix;  // offsets in `ends` are relative to buf, scratch_ starts at base
  std::size_t start = 0;
  std::size_t i = 0;
  while (start < scratch_.size()) {
    std::size_t end = start;
    while (i < ends.size() && ends[i] - base - start <= max_payload_) end = ends[i++] - base;
    if (end == start) end = start + max_payload_;  // one message larger than a frame: cut inside it
    while (i < ends.size() && ends[i] - base <= end) ++i;
    frames.push_back(buf.size());
    buf.resize(buf.size() + kPrefix);
    buf.insert(buf.end(), scratch_.begin() + static_cast<std::ptrdiff_t>(start),
               scratch_.begin() + static_cast<std::ptrdiff_t>(end));
    buf.resize(buf.size() + kTagBytes);
    start = end;
  }
  scratch_.clear();
  if (scratch_.capacity() > kKeepCapacity) std::vector<std::uint8_t>().swap(scratch_);
}

// Seals frames [first, last) of `buf` (each ends where the next starts).
void SecureChannel::seal_frames(std::vector<std::uint8_t>& buf, const std::vector<std::size_t>& frames,
                                std::size_t first, std::size_t last) {
  for (std::size_t k = first; k < last; ++k) {
    std::size_t end = k + 1 < frames.size() ? frames[k + 1] : buf.size();
    sealer_.seal_frame(FrameKind::data, std::span<std::uint8_t>(buf).subspan(frames[k], end - frames[k]));
  }
}

void SecureChannel::start_write() {
  writing_ = true;
  fill_ = 1 - fill_;  // appends go to the other buffer (empty: its write completed) meanwhile
  const int w = 1 - fill_;
  written_ = 0;
  sealed_ = frames_[w].empty() ? out_[w].size() : 0;  // no frames listed: sealed already
  next_frame_ = 0;
  in_flight_ = out_[w].size();
  write_next();
}

// Seals the next frames of the buffer being written (at least kWriteChunk
// bytes of them, or all that is left) and writes them. The buffer does not
// change while it is written, so earlier writes' bytes stay valid.
void SecureChannel::write_next() {
  const int w = 1 - fill_;
  auto& buf = out_[w];
  const auto& frames = frames_[w];
  std::size_t first = next_frame_;
  while (next_frame_ < frames.size() && sealed_ - written_ < kWriteChunk) {
    ++next_frame_;
    sealed_ = next_frame_ < frames.size() ? frames[next_frame_] : buf.size();
  }
  seal_frames(buf, frames, first, next_frame_);
  last_tx_ = alarms_->now();
  stream_->async_write(
      {asio::buffer(buf.data() + written_, sealed_ - written_)},
      [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_written(ec); });
}

void SecureChannel::on_written(boost::system::error_code ec) {
  const int w = 1 - fill_;
  auto& written = out_[w];
  if (!ec && state_ != State::closed && sealed_ < written.size()) {
    written_ = sealed_;
    in_flight_ = written.size() - written_;
    return write_next();
  }
  writing_ = false;
  in_flight_ = 0;
  written.clear();
  frames_[w].clear();
  if (state_ == State::closed) {
    std::vector<std::uint8_t>().swap(written);
    return;
  }
  if (pending_bytes() == 0) {
    // Drained: give back what a burst grew, in both buffers (the other one
    // may have been kept while this one was written).
    release_if_large(written);
    release_if_large(out_[fill_]);
  }
  if (ec) {
    if (state_ == State::closing) {
      state_ = State::closed;
      linger_->cancel();
      return shut_stream();
    }
    return fail({ErrorKind::disconnected, "connection lost: write failed: " + ec.message()});
  }
  if (state_ == State::closing && close_sealed_) {
    // The close frame is out: nothing may follow it.
    state_ = State::closed;
    linger_->cancel();
    return shut_stream();
  }
  if (state_ == State::closing || pending_bytes() > 0) flush();
}

// Keeps a quiet channel alive at the peer (its idle deadline counts bytes).
// Skipped when something is being sent or about to be: that counts as well.
void SecureChannel::send_ping() {
  if (writing_ || flush_posted_ || pending_bytes() > 0) return;
  auto& buf = out_[fill_];
  buf.clear();
  bounds_[fill_].clear();
  frames_[fill_].clear();
  sealer_.seal(FrameKind::ping, {}, buf);
  start_write();
}

}  // namespace vatic::captp
