// SecureChannel: one authenticated, encrypted CapTP connection over a Stream.
// It runs the Noise XK handshake (spec/handshake.md) and then carries frames
// (captp/internal/crypto/frame.h): the session above sees only plaintext payloads and
// the peer's vat id, never a key (STYLE 16).
//
// Ownership and threads: one channel per connection, owned through
// std::shared_ptr; it lives on one io_context and every call and callback
// happens on that io_context's thread. Outstanding reads and writes keep the
// channel alive; timers do not. Its deadlines are Alarms (alarm.h): on a vat,
// the vat's timers and clock, so a ManualClock decides when they pass. Dropping the last reference without close() or
// abort() does not close it while the stream has a read outstanding: always end
// a channel explicitly.
//
// Receiving: start() begins reading. Each non-empty data frame's payload is
// handed to on_data as a span that starts 8-byte aligned (Cap'n Proto can read
// it in place) and is valid only during the call. on_closed fires exactly once,
// and on_data never after it. Untrusted input never throws: whatever the peer
// (or the path) does ends in on_closed with kind `failed` (the peer broke the
// protocol or the bytes were altered) or `disconnected` (the connection or the
// peer went away, or a deadline passed), with a precise reason.
//
// Sending coalesces writes: the session appends plaintext messages to a buffer
// the channel owns and calls request_flush(); everything appended before the
// posted flush runs (one io_context iteration) leaves together, and a data
// frame carries one or more whole messages. Up to 256 KiB that is one sealed
// frame in one write. Past it, end_message() closes the frame at the message
// end and opens the next one in place (a large message gets a frame of its
// own), and the flush seals and writes those frames about 256 KiB at a time,
// so the peer opens one while we seal the next. While a write is in flight,
// appends go to a second buffer (double buffering: no copy and, in steady
// state, no allocation). A frame never exceeds max_message_bytes() of payload:
// a message that would push it over starts the next frame.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "captp/identity.h"
#include "captp/internal/crypto/frame.h"
#include "captp/internal/net/alarm.h"
#include "captp/options.h"
#include "captp/protocol.h"
#include "captp/stream.h"
#include "vat/clock.h"
#include "vat/error.h"

namespace vatic::captp {

class SecureChannel : public std::enable_shared_from_this<SecureChannel> {
 public:
  // Exactly one of the arguments is set: the channel, or why there is none.
  using Done = std::function<void(std::shared_ptr<SecureChannel>, Error*)>;
  using DataHandler = std::function<void(std::span<const std::uint8_t>)>;
  using ClosedHandler = std::function<void(const Error&)>;

  // Dials: runs the initiator's side over `stream`, succeeding only if the peer
  // holds `expected_peer`'s key. `done` runs exactly once, later, on io's
  // thread. `me` is used before initiate() returns; nothing refers to it after.
  // `instance` is the running Node's instance id (spec/handshake.md); a lone
  // channel gets a fresh one. Throws VatError{failed} at once for invalid
  // options or `expected_peer` being `me` (caller bugs: a vat does not dial
  // itself).
  // `alarms`: where the handshake deadline and the channel's deadlines come
  // from (a Node passes its vat's); null: Asio timers on `io`, real time.
  static void initiate(boost::asio::io_context& io, std::unique_ptr<Stream> stream, const Identity& me,
                       const VatId& expected_peer, ChannelOptions options, Done done,
                       const InstanceId& instance = InstanceId::generate(), std::shared_ptr<Alarms> alarms = nullptr);
  // Answers: runs the responder's side; any vat may connect, peer() says
  // which, except `me` itself: an initiator presenting our own identity is
  // refused once authenticated, with a close frame saying why
  // (spec/handshake.md, "Result"), and `done` gets the reason.
  // Both sides likewise refuse a peer whose hello does not negotiate (another
  // major version, a malformed hello; spec/handshake.md "Version and
  // features"); negotiated() says what an accepted channel speaks.
  static void respond(boost::asio::io_context& io, std::unique_ptr<Stream> stream, const Identity& me,
                      ChannelOptions options, Done done, const InstanceId& instance = InstanceId::generate(),
                      std::shared_ptr<Alarms> alarms = nullptr);

  // What a finished handshake hands over. Public so that tests can key a
  // channel directly; production code gets channels from initiate/respond.
  struct Keys {
    FrameSealer sealer;  // our direction
    FrameOpener opener;  // the peer's direction
    VatId peer;
    bool initiator;
    InstanceId peer_instance{};  // which of the peer's running Nodes
    // The protocol version and features both ends agreed on; a channel keyed
    // directly (tests, fuzzers) speaks as two vats of this version would.
    Negotiated negotiated{kProtocolVersion, kOfferedFeatures};
  };
  SecureChannel(boost::asio::io_context& io, std::unique_ptr<Stream> stream, Keys keys, ChannelOptions options,
                std::shared_ptr<Alarms> alarms = nullptr);
  SecureChannel(const SecureChannel&) = delete;
  SecureChannel& operator=(const SecureChannel&) = delete;
  ~SecureChannel();

  const VatId& peer() const { return peer_; }
  const InstanceId& peer_instance() const { return peer_instance_; }
  // spec/handshake.md "Version and features": what this channel's session speaks.
  const Negotiated& negotiated() const { return negotiated_; }
  bool is_initiator() const { return initiator_; }
  // The transport, for logs: "tcp 10.0.0.7:4242".
  const std::string& describe() const { return description_; }
  bool is_open() const { return state_ == State::open; }

  // --- Receiving.
  // Starts reading. Call once. If the channel already ended (before start),
  // on_closed is posted with the reason.
  void start(DataHandler on_data, ClosedHandler on_closed);
  // Flow control: stop handing frames to on_data (after the current one) and
  // stop reading the stream, so the peer meets TCP back-pressure.
  void pause_reading();
  void resume_reading();

  // --- Sending.
  // The pending plaintext buffer. Its first 12 bytes belong to the channel
  // (length and frame header); append messages after them, never modify or
  // keep references into the buffer across calls into the channel.
  std::vector<std::uint8_t>& begin_append();
  // Marks the end of one whole message (a place where a flush may cut frames).
  // Throws VatError{failed} if that message alone exceeds max_message_bytes();
  // it is then removed from the buffer and nothing else is affected. Bytes
  // appended and never ended count as one message at the flush.
  void end_message();
  // Seals and writes what was appended, once per io_context iteration: the
  // first call posts the flush, later ones before it runs do nothing.
  void request_flush();
  // Plaintext appended and not yet sealed.
  std::size_t pending_bytes() const;
  // Pending plaintext plus bytes handed to the stream and not yet written: what
  // the session bounds to stop a peer that does not read from growing our memory.
  std::size_t unsent_bytes() const;
  // The largest message one frame can carry.
  std::size_t max_message_bytes() const { return max_payload_; }
  // Bytes the receive buffer holds on to now (what an idle session costs).
  std::size_t receive_capacity() const { return rcapacity(); }
  // Bytes the two send buffers hold on to now: kept while bulk traffic flows,
  // given back down to 4 MiB each once it drains.
  std::size_t send_capacity() const { return out_[0].capacity() + out_[1].capacity(); }

  // --- Ending. Both run on_closed before they return (if start() was called
  // and it has not fired yet); no callback fires after they return.
  // Graceful: flushes what is pending, sends a close frame carrying `reason`
  // (cut to 256 bytes of UTF-8), then shuts the stream (after at most
  // close_linger). on_closed gets {disconnected, "closed locally: <reason>"}.
  void close(const std::string& reason);
  // Immediate: drops what is pending and shuts the stream; on_closed gets `e`.
  void abort(const Error& e);

 private:
  enum class State : unsigned char { open, closing, closed };

  // channel_receive.cpp
  void read();
  void on_read(boost::system::error_code ec, std::size_t n);
  void process();
  void post_process();
  bool dispatch_frame(FrameKind kind, std::uint8_t* payload, std::size_t size);
  std::uint8_t* rbytes() { return reinterpret_cast<std::uint8_t*>(rbuf_.data()); }
  std::size_t rcapacity() const { return rbuf_.size() * sizeof(std::uint64_t); }
  void make_read_room();

  // channel_send.cpp
  void flush();
  void close_frames(std::vector<std::uint8_t>& buf, std::vector<std::size_t>& frames, std::vector<std::size_t>& ends);
  void seal_frames(std::vector<std::uint8_t>& buf, const std::vector<std::size_t>& frames, std::size_t first,
                   std::size_t last);
  void start_write();
  void write_next();
  void on_written(boost::system::error_code ec);
  void send_ping();

  // channel.cpp
  void arm_keepalive();
  void on_keepalive();
  // The channel ends because of the peer, the stream or a deadline.
  void fail(Error e);
  void shut_stream();
  void deliver_closed(const Error& e);

  boost::asio::io_context& io_;
  ChannelOptions options_;
  FrameSealer sealer_;
  FrameOpener opener_;
  VatId peer_;
  InstanceId peer_instance_;
  Negotiated negotiated_;
  bool initiator_;
  std::string description_;
  State state_ = State::open;
  std::size_t max_payload_;

  // Receiving: frames are decrypted in place in rbuf_, whose uint64_t elements
  // make it 8-byte aligned; bytes [rhead_, rtail_) are received and unprocessed.
  std::vector<std::uint64_t> rbuf_;
  std::size_t rhead_ = 0;
  std::size_t rtail_ = 0;
  bool started_ = false;
  bool reading_ = false;
  bool paused_ = false;
  bool dispatching_ = false;
  bool last_frame_large_ = false;  // the last frame opened did not fit kReadChunk
  bool process_posted_ = false;
  DataHandler on_data_;
  ClosedHandler on_closed_;
  std::optional<Error> early_close_;  // ended before start(): told at start()

  // Sending: out_[fill_] collects appends; out_[1 - fill_] is being written.
  std::vector<std::uint8_t> out_[2];
  std::vector<std::size_t> bounds_[2];  // message ends in out_[i]'s open frame (absolute offsets)
  std::vector<std::size_t> frames_[2];  // where each frame not yet sealed starts in out_[i]
  std::vector<std::uint8_t> scratch_;   // where an oversized unended tail is cut into frames
  int fill_ = 0;
  bool writing_ = false;
  bool flush_posted_ = false;
  std::size_t in_flight_ = 0;  // bytes of out_[1 - fill_] not yet written
  // The buffer being written: bytes [0, written_) are out, [written_, sealed_)
  // are being written, frames from next_frame_ on are not sealed yet.
  std::size_t written_ = 0;
  std::size_t sealed_ = 0;
  std::size_t next_frame_ = 0;
  std::string close_reason_;  // the close frame still to send, while closing
  bool close_sealed_ = false;

  // One timer serves the idle deadline and the ping schedule; another bounds close().
  std::shared_ptr<Alarms> alarms_;
  std::unique_ptr<Alarm> keepalive_;
  std::unique_ptr<Alarm> linger_;
  TimePoint last_rx_;
  TimePoint last_tx_;

  // Last: destroyed first, so an outstanding read never outlives rbuf_.
  std::unique_ptr<Stream> stream_;
};

}  // namespace vatic::captp
