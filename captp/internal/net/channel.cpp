// SecureChannel: construction, start, the keepalive timer and the ways a
// channel ends. Receiving is in channel_receive.cpp, sending in
// channel_send.cpp, the handshake in channel_handshake.cpp.
#include "captp/internal/net/channel.h"

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>

#include "vat/utf8.h"

namespace vatic::captp {
namespace {

namespace asio = boost::asio;

std::string millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// The close frame carries at most 256 bytes of valid UTF-8 (frame.h): keep
// whole characters up to that, and replace bytes that are not UTF-8.
std::string close_frame_text(std::string_view reason) {
  std::string out;
  std::size_t i = 0;
  while (i < reason.size()) {
    std::size_t len = utf8::decode(reason.substr(i)).size;
    bool ok = len != 0;
    std::string_view piece = ok ? reason.substr(i, len) : std::string_view("?");
    if (out.size() + piece.size() > kMaxCloseReason) break;
    out += piece;
    i += ok ? len : 1;
  }
  return out;
}

}  // namespace

SecureChannel::SecureChannel(asio::io_context& io, std::unique_ptr<Stream> stream, Keys keys, ChannelOptions options,
                             std::shared_ptr<Alarms> alarms)
    : io_(io),
      options_(options),
      sealer_(std::move(keys.sealer)),
      opener_(std::move(keys.opener)),
      peer_(keys.peer),
      peer_instance_(keys.peer_instance),
      negotiated_(keys.negotiated),
      initiator_(keys.initiator),
      description_(stream->describe()),
      max_payload_(std::min<std::uint32_t>(options.max_frame, kDefaultMaxFrame) - kMinFrame),
      alarms_(alarms ? std::move(alarms) : asio_alarms(io)),
      keepalive_(alarms_->make()),
      linger_(alarms_->make()),
      last_rx_(alarms_->now()),
      last_tx_(last_rx_),
      stream_(std::move(stream)) {}

// Members go in reverse order: the stream first (aborting what is outstanding,
// whose handlers cannot run: they hold a reference to us), then the timers.
SecureChannel::~SecureChannel() = default;

void SecureChannel::start(DataHandler on_data, ClosedHandler on_closed) {
  if (started_) throw_error(ErrorKind::failed, "SecureChannel::start called twice (caller bug)");
  started_ = true;
  on_data_ = std::move(on_data);
  on_closed_ = std::move(on_closed);
  if (early_close_) {
    asio::post(io_, [self = shared_from_this()] {
      if (self->on_closed_) self->deliver_closed(*self->early_close_);
    });
    return;
  }
  last_rx_ = alarms_->now();
  arm_keepalive();
  read();
}

void SecureChannel::close(const std::string& reason) {
  auto keep = weak_from_this().lock();  // on_closed may drop the caller's last reference
  if (state_ != State::open) {
    // Ended before start() and not yet told: tell now, not after we return.
    if (early_close_ && on_closed_) deliver_closed(*early_close_);
    return;
  }
  state_ = State::closing;
  keepalive_->cancel();
  close_reason_ = close_frame_text(reason);
  linger_->set(alarms_->now() + options_.close_linger, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self || self->state_ != State::closing) return;
    self->state_ = State::closed;  // the peer does not read: give up on the rest
    self->shut_stream();
  });
  flush();  // the pending data, then the close frame; after the write in flight, if any
  deliver_closed({ErrorKind::disconnected, "closed locally: " + reason});
}

void SecureChannel::abort(const Error& e) {
  auto keep = weak_from_this().lock();
  if (state_ == State::closed) {
    if (early_close_ && on_closed_) deliver_closed(*early_close_);
    return;
  }
  bool was_open = state_ == State::open;
  state_ = State::closed;
  keepalive_->cancel();
  linger_->cancel();
  shut_stream();
  if (was_open) deliver_closed(e);  // a closing channel already said "closed locally"
}

void SecureChannel::fail(Error e) {
  if (state_ == State::closed) return;
  bool was_open = state_ == State::open;
  state_ = State::closed;
  keepalive_->cancel();
  linger_->cancel();
  shut_stream();
  if (was_open) deliver_closed(e);
}

void SecureChannel::shut_stream() {
  stream_->close();
  // Nothing will be sent any more: let go of the buffers now, except the one a
  // write may still be using (on_written lets go of that one).
  std::vector<std::uint8_t>().swap(out_[fill_]);
  frames_[fill_].clear();
  bounds_[fill_].clear();
  std::vector<std::uint8_t>().swap(scratch_);
}

void SecureChannel::deliver_closed(const Error& e) {
  if (!started_) {
    if (!early_close_) early_close_ = e;
    return;
  }
  if (!on_closed_) return;
  auto cb = std::move(on_closed_);
  on_closed_ = nullptr;
  // Drop what the session's callbacks hold (often the session itself), unless
  // on_data is running right now; process() drops it when it returns.
  if (!dispatching_) on_data_ = nullptr;
  cb(e);
}

// One timer for two schedules: the idle deadline (last byte received +
// idle_timeout) and the next ping (last write + idle_timeout / 3). It is
// re-armed when it fires, not on every frame, so a busy channel costs nothing.
void SecureChannel::arm_keepalive() {
  if (options_.idle_timeout <= Duration::zero() || state_ != State::open) return;
  Duration idle = options_.idle_timeout;
  keepalive_->set(std::min(last_rx_ + idle, last_tx_ + idle / 3), [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->on_keepalive();
  });
}

void SecureChannel::on_keepalive() {
  if (state_ != State::open) return;
  TimePoint now = alarms_->now();
  Duration idle = options_.idle_timeout;
  if (paused_) last_rx_ = now;  // we are not reading: the silence is ours, not the peer's
  if (now - last_rx_ >= idle)
    return fail({ErrorKind::disconnected, "idle deadline of " + millis(options_.idle_timeout) + " exceeded"});
  if (now - last_tx_ >= idle / 3) {
    send_ping();
    // Skipped when a write is under way (a slow peer may hold it for long):
    // that write keeps the peer's deadline too. Counting it as sent now keeps
    // the alarm out of the past, where it would fire again at once, turn
    // after turn, for as long as the write waits (found by tests/sim, seeds
    // 5157 and 5531).
    last_tx_ = now;
  }
  arm_keepalive();
}

}  // namespace vatic::captp
