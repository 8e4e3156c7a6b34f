// SecureChannel, sending: coalesce what the session appends during one loop
// iteration into one frame and one write, double-buffered so that appends
// never wait for (or copy around) a write in flight.
#include "captp/net/channel.h"

#include <span>
#include <utility>

#include <boost/asio/post.hpp>

namespace vatic::captp {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kPrefix = kFrameLengthBytes + kFrameHeaderBytes;  // reserved before each payload
// A buffer that grew past this for one burst is released after its write, so
// one large message does not pin its size per connection forever.
constexpr std::size_t kKeepCapacity = 4 << 20;

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::vector<std::uint8_t>& SecureChannel::begin_append() {
  auto& buf = out_[fill_];
  if (buf.empty()) buf.resize(kPrefix);
  return buf;
}

void SecureChannel::end_message() {
  auto& buf = out_[fill_];
  auto& ends = bounds_[fill_];
  if (buf.size() <= kPrefix) return;
  std::size_t start = ends.empty() ? kPrefix : ends.back();
  std::size_t size = buf.size() - start;
  if (size == 0) return;
  if (size > max_payload_) {
    buf.resize(start);
    throw_error(ErrorKind::failed, "message of " + std::to_string(size) + " bytes exceeds the largest frame payload (" +
                                       std::to_string(max_payload_) + " bytes)");
  }
  ends.push_back(buf.size());
}

std::size_t SecureChannel::pending_bytes() const {
  const auto& buf = out_[fill_];
  return buf.size() > kPrefix ? buf.size() - kPrefix : 0;
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

// Seals what is pending (and, while closing, the close frame after it) and
// writes it. With a write in flight it does nothing: on_written calls it again.
void SecureChannel::flush() {
  if (writing_ || state_ == State::closed) return;
  auto& buf = out_[fill_];
  if (buf.size() > kPrefix)
    seal_pending(buf, bounds_[fill_]);
  else
    buf.clear();
  bounds_[fill_].clear();
  if (state_ == State::closing && !close_sealed_) {
    sealer_.seal(FrameKind::close, bytes_of(close_reason_), buf);
    close_sealed_ = true;
  }
  if (!buf.empty()) start_write();
}

// One frame in place when it fits (the common case: no copy). Otherwise the
// payload is cut at message ends into frames of at most max_payload_ bytes,
// built in scratch_ (each frame needs its own 12-byte prefix and 16-byte tag,
// so this rare path copies).
void SecureChannel::seal_pending(std::vector<std::uint8_t>& buf, std::vector<std::size_t>& ends) {
  if (buf.size() - kPrefix <= max_payload_) return sealer_.seal_in_place(FrameKind::data, buf, 0);
  if (ends.empty() || ends.back() != buf.size()) ends.push_back(buf.size());  // an unended tail is one message
  scratch_.clear();
  scratch_.reserve(buf.size() + (2 * buf.size() / max_payload_ + 2) * (kPrefix + kTagBytes));
  std::size_t start = kPrefix;
  std::size_t i = 0;
  while (start < buf.size()) {
    std::size_t end = start;
    while (i < ends.size() && ends[i] - start <= max_payload_) end = ends[i++];
    // Only bytes appended without end_message can make one message larger
    // than a frame (end_message refuses those); cut inside it then.
    if (end == start) end = start + max_payload_;
    while (i < ends.size() && ends[i] <= end) ++i;
    std::size_t frame_start = scratch_.size();
    scratch_.resize(frame_start + kPrefix);
    scratch_.insert(scratch_.end(), buf.begin() + static_cast<std::ptrdiff_t>(start),
                    buf.begin() + static_cast<std::ptrdiff_t>(end));
    sealer_.seal_in_place(FrameKind::data, scratch_, frame_start);
    start = end;
  }
  std::swap(buf, scratch_);
  scratch_.clear();
  if (scratch_.capacity() > kKeepCapacity) std::vector<std::uint8_t>().swap(scratch_);
}

void SecureChannel::start_write() {
  writing_ = true;
  auto& buf = out_[fill_];
  fill_ = 1 - fill_;  // appends go to the other buffer (empty: its write completed) meanwhile
  in_flight_ = buf.size();
  last_tx_ = std::chrono::steady_clock::now();
  stream_->async_write({asio::buffer(buf)}, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->on_written(ec);
  });
}

void SecureChannel::on_written(boost::system::error_code ec) {
  writing_ = false;
  in_flight_ = 0;
  auto& written = out_[1 - fill_];
  written.clear();
  if (written.capacity() > kKeepCapacity || state_ == State::closed) std::vector<std::uint8_t>().swap(written);
  if (state_ == State::closed) return;
  if (ec) {
    if (state_ == State::closing) {
      state_ = State::closed;
      linger_.cancel();
      return shut_stream();
    }
    return fail({ErrorKind::disconnected, "connection lost: write failed: " + ec.message()});
  }
  if (state_ == State::closing && close_sealed_) {
    // The close frame is out: nothing may follow it.
    state_ = State::closed;
    linger_.cancel();
    return shut_stream();
  }
  if (state_ == State::closing || out_[fill_].size() > kPrefix) flush();
}

// Keeps a quiet channel alive at the peer (its idle deadline counts bytes).
// Skipped when something is being sent or about to be: that counts as well.
void SecureChannel::send_ping() {
  if (writing_ || flush_posted_ || pending_bytes() > 0) return;
  auto& buf = out_[fill_];
  buf.clear();
  bounds_[fill_].clear();
  sealer_.seal(FrameKind::ping, {}, buf);
  start_write();
}

}  // namespace vatic::captp
