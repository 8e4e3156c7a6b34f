// SecureChannel::initiate and ::respond: drive CaptpHandshake (the state
// machine of spec/handshake.md) over a Stream, under a deadline, and turn its
// outcome into a channel or an Error with a reason a human can act on.
#include "captp/internal/net/channel.h"

#include <string_view>
#include <utility>

#include <boost/asio/post.hpp>

#include "captp/internal/crypto/handshake.h"

namespace vatic::captp {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr const char* kSelfDialRefused =
    "the dialing vat presents this vat's own identity, and a vat does not dial itself (use another store)";

std::string millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// What a first message that is not Noise usually is: a hint for whoever
// pointed the wrong client at a vat.
std::string_view guess_protocol(std::span<const std::uint8_t> m) {
  std::string_view s(reinterpret_cast<const char*>(m.data()), m.size());
  for (std::string_view method : {"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "PRI * HTTP"})
    if (s.starts_with(method)) return ": it looks like an HTTP request";
  if (m.size() >= 3 && m[0] == 0x16 && m[1] == 0x03) return ": it looks like a TLS ClientHello";
  if (s.starts_with("SSH-")) return ": it looks like an SSH client";
  return "";
}

void check_options(const ChannelOptions& o) {
  auto bug = [](const char* what) { throw_error(ErrorKind::failed, std::string("ChannelOptions: ") + what); };
  if (o.handshake_timeout <= Duration::zero()) bug("handshake_timeout must be positive");
  if (o.idle_timeout < Duration::zero()) bug("idle_timeout must not be negative");
  if (o.max_frame < kMinFrame) bug("max_frame must be at least 24 bytes");
  if (o.rekey_every == 0) bug("rekey_every must be positive");
}

// One handshake in progress. Its stream operations hold it alive; it hands the
// stream to the channel when done, or closes it.
class HandshakeRun : public std::enable_shared_from_this<HandshakeRun> {
 public:
  HandshakeRun(asio::io_context& io, std::unique_ptr<Stream> stream, CaptpHandshake hs, const VatId& self,
               std::optional<VatId> dialled, ChannelOptions options, SecureChannel::Done done,
               std::shared_ptr<Alarms> alarms)
      : io_(io),
        stream_(std::move(stream)),
        hs_(std::move(hs)),
        self_(self),
        dialled_(std::move(dialled)),
        options_(options),
        done_(std::move(done)),
        alarms_(alarms ? std::move(alarms) : asio_alarms(io)),
        deadline_(alarms_->make()) {}

  void begin() {
    // The alarm holds only a weak reference: a handshake that ended cancels
    // it, and one abandoned by its stream must not be kept alive by it.
    deadline_->set(alarms_->now() + options_.handshake_timeout, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      self->fail({ErrorKind::disconnected, "handshake deadline of " + millis(self->options_.handshake_timeout) +
                                               " exceeded (waiting for message " + std::to_string(self->message_) +
                                               ")"});
    });
    next();
  }

 private:
  void next() {
    if (finished_) return;
    if (hs_.complete()) return succeed();
    ++message_;
    if (hs_.my_turn_to_write()) return write();
    read();
  }

  void write() {
    out_ = hs_.write_message();
    stream_->async_write({asio::buffer(out_)}, [self = shared_from_this()](error_code ec, std::size_t) {
      if (self->finished_) return;
      if (ec)
        return self->fail({ErrorKind::disconnected, "handshake: sending message " + std::to_string(self->message_) +
                                                        " failed: " + ec.message()});
      self->next();
    });
  }

  void read() {
    in_.resize(hs_.next_read_size());
    async_read_exactly(*stream_, asio::buffer(in_), [self = shared_from_this()](error_code ec, std::size_t n) {
      if (self->finished_) return;
      if (ec) return self->fail({ErrorKind::disconnected, self->io_reason(ec, n)});
      if (auto read = self->hs_.read_message(self->in_); !read)
        return self->fail({ErrorKind::failed, self->explain(read.error())});
      self->next();
    });
  }

  std::string io_reason(error_code ec, std::size_t got) const {
    std::string m = "message " + std::to_string(message_);
    if (ec != asio::error::eof) return "handshake: reading " + m + " failed: " + ec.message();
    std::string r = "handshake: peer closed the connection after " + std::to_string(got) + " of " +
                    std::to_string(in_.size()) + " bytes of " + m;
    // handshake.md: a responder that is not the dialled vat cannot read
    // message 1 and drops the connection; this is all the initiator sees.
    if (dialled_ && message_ == 2 && got == 0) r += " (a vat other than " + dialled_->to_text() + " closes here)";
    return r;
  }

  std::string explain(const std::string& why) const {
    if (dialled_) {  // we dial, so the only message we read is 2, from the responder
      return "handshake: responder is not " + dialled_->to_text() + ": authentication failed on message " +
             std::to_string(message_);
    }
    if (message_ == 1)
      return "handshake: peer sent garbage (message 1 failed to authenticate)" + std::string(guess_protocol(in_));
    if (why.find("failed authentication") != std::string::npos)
      return "handshake: message " + std::to_string(message_) + " failed to authenticate";
    return "handshake: " + why;
  }

  void succeed() {
    finished_ = true;
    deadline_->cancel();
    auto r = hs_.finish();
    // handshake.md "Version and features": judged only now, when both sides
    // are authenticated, so that the refusal may say why.
    auto agreed = negotiate(r.own_hello, r.peer_hello);
    SecureChannel::Keys keys{FrameSealer(std::move(r.send), options_.rekey_every),
                             FrameOpener(std::move(r.receive), options_.max_frame, options_.rekey_every),
                             r.peer,
                             dialled_.has_value(),
                             r.peer_instance,
                             agreed ? *agreed : Negotiated{}};
    auto channel = std::make_shared<SecureChannel>(io_, std::move(stream_), std::move(keys), options_, alarms_);
    auto done = std::move(done_);
    if (!dialled_ && r.peer == self_) {
      // handshake.md "Result": a vat does not accept itself (as in E). The
      // initiator proved it holds our own key, so saying why in a close frame
      // tells it nothing it does not know, and spares its operator a guess.
      return refuse(*channel, kSelfDialRefused, done);
    }
    // Each side refuses on its own (both know both hellos) and says why in a
    // close frame: the peer is authenticated, so the reason is no oracle.
    if (!agreed) return refuse(*channel, agreed.error(), done);
    done(std::move(channel), nullptr);
  }

  static void refuse(SecureChannel& channel, const std::string& reason, const SecureChannel::Done& done) {
    channel.close(reason);
    Error e{ErrorKind::failed, "handshake: refused: " + reason};
    done(nullptr, &e);
  }

  void fail(Error e) {
    if (finished_) return;
    finished_ = true;
    deadline_->cancel();
    stream_->close();  // outstanding operations complete (ignored) and release us
    auto done = std::move(done_);
    done(nullptr, &e);
  }

  asio::io_context& io_;
  std::unique_ptr<Stream> stream_;
  CaptpHandshake hs_;
  VatId self_;
  std::optional<VatId> dialled_;  // set on the initiator
  ChannelOptions options_;
  SecureChannel::Done done_;
  std::shared_ptr<Alarms> alarms_;
  std::unique_ptr<Alarm> deadline_;
  std::vector<std::uint8_t> in_;
  std::vector<std::uint8_t> out_;
  int message_ = 0;  // the handshake message being sent or awaited (1..3)
  bool finished_ = false;
};

}  // namespace

void SecureChannel::initiate(asio::io_context& io, std::unique_ptr<Stream> stream, const Identity& me,
                             const VatId& expected_peer, ChannelOptions options, Done done, const InstanceId& instance,
                             std::shared_ptr<Alarms> alarms) {
  check_options(options);
  if (expected_peer == me.id()) throw_error(ErrorKind::failed, "SecureChannel::initiate: a vat does not dial itself");
  auto hs = CaptpHandshake::initiator(me, expected_peer, instance, Hello::offered(options.offer_handoff));
  std::make_shared<HandshakeRun>(io, std::move(stream), std::move(hs), me.id(), expected_peer, options, std::move(done),
                                 std::move(alarms))
      ->begin();
}

void SecureChannel::respond(asio::io_context& io, std::unique_ptr<Stream> stream, const Identity& me,
                            ChannelOptions options, Done done, const InstanceId& instance,
                            std::shared_ptr<Alarms> alarms) {
  check_options(options);
  auto hs = CaptpHandshake::responder(me, instance, Hello::offered(options.offer_handoff));
  std::make_shared<HandshakeRun>(io, std::move(stream), std::move(hs), me.id(), std::nullopt, options, std::move(done),
                                 std::move(alarms))
      ->begin();
}

}  // namespace vatic::captp
