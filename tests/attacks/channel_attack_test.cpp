// Attacks on the secure channel: a hostile peer (or someone on the path) in the
// same process drives raw bytes at a real SecureChannel over a memory pipe or a
// TCP socket. Every attack must end in a closed channel with a precise reason,
// never in a crash, a hang, a large allocation, or data handed to the session.
//
//   mallory (raw bytes, CaptpHandshake by hand) --memory pipe/TCP--> bob (SecureChannel::respond)
//   alice (SecureChannel::initiate) --TamperStream--> bob                 (handshake tampering)
#include "captp/internal/net/channel.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "captp/internal/crypto/handshake.h"
#include "captp/internal/net/socket.h"
#include "captp/memory_pipe.h"

namespace vatic::captp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using Bytes = std::vector<std::uint8_t>;

template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_one_for(20ms) == 0 && io.stopped()) return done();
  }
  return true;
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Raw stream I/O for the hostile side, driving the shared io_context meanwhile.
void write_raw(asio::io_context& io, Stream& s, Bytes b) {
  bool done = false;
  s.async_write({asio::buffer(b)}, [&](error_code, std::size_t) { done = true; });
  ASSERT_TRUE(run_until(io, [&] { return done; }));
}
Bytes read_raw(asio::io_context& io, Stream& s, std::size_t n) {
  Bytes b(n);
  bool done = false;
  async_read_exactly(s, asio::buffer(b), [&](error_code ec, std::size_t got) {
    b.resize(ec ? got : n);
    done = true;
  });
  EXPECT_TRUE(run_until(io, [&] { return done; }));
  return b;
}
// What the next read says: EOF once the victim has closed its end.
error_code next_read_error(asio::io_context& io, Stream& s) {
  std::uint8_t sink[256];
  std::optional<error_code> result;
  std::function<void()> pump = [&] {
    s.async_read_some(asio::buffer(sink), [&](error_code ec, std::size_t) { ec ? void(result = ec) : pump(); });
  };
  pump();
  EXPECT_TRUE(run_until(io, [&] { return result.has_value(); }));
  return result.value_or(error_code{});
}

// Any frame at all, sealed with the real key: kinds and headers FrameSealer
// would refuse to produce.
Bytes raw_frame(CipherState& cs, std::uint8_t kind, std::string_view payload, std::uint8_t reserved = 0) {
  Bytes f(kFrameLengthBytes + kFrameHeaderBytes + payload.size() + kTagBytes);
  encode_frame_length(static_cast<std::uint32_t>(f.size() - kFrameLengthBytes), f.data());
  f[4] = kind;
  f[5] = reserved;
  std::memcpy(f.data() + 12, payload.data(), payload.size());
  cs.encrypt_with_ad({f.data(), 4}, {f.data() + 4, kFrameHeaderBytes + payload.size()}, f.data() + 4);
  return f;
}

// A decorator on the wire: counts the bytes written through it and flips one
// bit of the byte at a chosen offset of what is written.
class TamperStream final : public Stream {
 public:
  TamperStream(std::unique_ptr<Stream> inner, std::size_t* written, std::optional<std::size_t> flip_at)
      : inner_(std::move(inner)), written_(written), flip_at_(flip_at) {}
  void async_read_some(asio::mutable_buffer b, IoHandler h) override { inner_->async_read_some(b, std::move(h)); }
  void async_write(std::vector<asio::const_buffer> bufs, IoHandler h) override {
    auto copy = std::make_shared<Bytes>();
    for (auto& b : bufs)
      copy->insert(copy->end(), (const std::uint8_t*)b.data(), (const std::uint8_t*)b.data() + b.size());
    if (flip_at_ && *flip_at_ >= *written_ && *flip_at_ < *written_ + copy->size())
      (*copy)[*flip_at_ - *written_] ^= 0x10;
    *written_ += copy->size();
    inner_->async_write({asio::buffer(*copy)}, [copy, h = std::move(h)](error_code ec, std::size_t n) { h(ec, n); });
  }
  void close() override { inner_->close(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::unique_ptr<Stream> inner_;
  std::size_t* written_;
  std::optional<std::size_t> flip_at_;
};

struct Side {
  std::shared_ptr<SecureChannel> ch;
  std::optional<Error> handshake_error;
  bool done = false;
  std::vector<std::string> received;
  std::optional<Error> closed;
  int closed_calls = 0;

  SecureChannel::Done handshake() {
    return [this](std::shared_ptr<SecureChannel> c, Error* e) {
      done = true;
      if (e) handshake_error = *e;
      ch = std::move(c);
    };
  }
  void start() {
    ch->start([this](std::span<const std::uint8_t> p) { received.emplace_back((const char*)p.data(), p.size()); },
              [this](const Error& e) {
                ++closed_calls;
                closed = e;
              });
  }
};

class ChannelAttack : public ::testing::Test {
 protected:
  asio::io_context io;
  Identity alice = Identity::generate();
  Identity bob = Identity::generate();
  Identity mallory = Identity::generate();
  std::unique_ptr<Stream> raw;  // mallory's end of the pipe
  Side victim;                  // bob, responding
  std::optional<CipherState> to_victim;

  void TearDown() override {
    if (victim.ch) victim.ch->abort({ErrorKind::disconnected, "test over"});
    if (raw) raw->close();
    io.restart();
    io.run_for(100ms);
  }

  void respond() {
    auto [m, b] = memory_pipe(io, io);
    raw = std::move(m);
    SecureChannel::respond(io, std::move(b), bob, {}, victim.handshake());
  }
  // Mallory is a vat too: she completes a genuine handshake, then misbehaves.
  void handshake_as_mallory() {
    respond();
    auto hs = CaptpHandshake::initiator(mallory, bob.id());
    write_raw(io, *raw, hs.write_message());
    ASSERT_TRUE(hs.read_message(read_raw(io, *raw, kHandshakeMessage2Bytes)));
    write_raw(io, *raw, hs.write_message());
    ASSERT_TRUE(run_until(io, [&] { return victim.done; }));
    ASSERT_TRUE(victim.ch) << victim.handshake_error->reason;
    EXPECT_EQ(victim.ch->peer(), mallory.id());
    victim.start();
    to_victim.emplace(hs.finish().send);
  }
  Bytes frame(FrameKind kind, std::string_view payload) {
    return raw_frame(*to_victim, static_cast<std::uint8_t>(kind), payload);
  }
  void expect_victim_closed(ErrorKind kind, const std::string& reason) {
    ASSERT_TRUE(run_until(io, [&] { return victim.closed.has_value(); }));
    EXPECT_EQ(*victim.closed, (Error{kind, reason}));
    EXPECT_EQ(victim.closed_calls, 1);
    EXPECT_EQ(next_read_error(io, *raw), asio::error::eof) << "the victim dropped the connection";
  }
  void expect_handshake_refused(const std::string& reason, ErrorKind kind = ErrorKind::failed) {
    ASSERT_TRUE(run_until(io, [&] { return victim.done; }));
    EXPECT_FALSE(victim.ch);
    ASSERT_TRUE(victim.handshake_error);
    EXPECT_EQ(*victim.handshake_error, (Error{kind, reason}));
    EXPECT_EQ(next_read_error(io, *raw), asio::error::eof);
  }
};

// --- Before and during the handshake.

TEST_F(ChannelAttack, DiallingTheWrongVatFailsBeforeAnyDataLeaves) {
  Identity carol = Identity::generate();  // alice thinks she dials carol; bob answers
  auto [sa, sb] = memory_pipe(io, io);
  std::size_t alice_wrote = 0;
  Side a;
  SecureChannel::initiate(io, std::make_unique<TamperStream>(std::move(sa), &alice_wrote, std::nullopt), alice,
                          carol.id(), {}, a.handshake());
  SecureChannel::respond(io, std::move(sb), bob, {}, victim.handshake());
  ASSERT_TRUE(run_until(io, [&] { return a.done && victim.done; }));
  EXPECT_FALSE(a.ch);
  EXPECT_FALSE(victim.ch) << "bob never gets a channel";
  EXPECT_EQ(*victim.handshake_error,
            (Error{ErrorKind::failed, "handshake: peer sent garbage (message 1 failed to authenticate)"}));
  EXPECT_EQ(a.handshake_error->kind, ErrorKind::disconnected);
  EXPECT_NE(a.handshake_error->reason.find("a vat other than " + carol.id().to_text()), std::string::npos)
      << a.handshake_error->reason;
  EXPECT_EQ(alice_wrote, kHandshakeMessage1Bytes) << "only message 1 ever left alice";
}

TEST_F(ChannelAttack, AnImpostorAnsweringMessageTwoIsRefusedBeforeMessageThree) {
  auto [sa, sm] = memory_pipe(io, io);
  std::size_t alice_wrote = 0;
  Side a;
  SecureChannel::initiate(io, std::make_unique<TamperStream>(std::move(sa), &alice_wrote, std::nullopt), alice,
                          bob.id(), {}, a.handshake());
  read_raw(io, *sm, kHandshakeMessage1Bytes);
  // Mallory cannot read message 1 (it is encrypted to bob); her best is a
  // well-formed Noise message of her own, of message 2's size.
  auto fake = CaptpHandshake::initiator(mallory, mallory.id()).write_message();
  fake.resize(kHandshakeMessage2Bytes);
  write_raw(io, *sm, fake);
  ASSERT_TRUE(run_until(io, [&] { return a.done; }));
  EXPECT_FALSE(a.ch);
  EXPECT_EQ(*a.handshake_error, (Error{ErrorKind::failed, "handshake: responder is not " + bob.id().to_text() +
                                                              ": authentication failed on message 2"}));
  EXPECT_EQ(alice_wrote, kHandshakeMessage1Bytes) << "no message 3, no frame";
  EXPECT_EQ(next_read_error(io, *sm), asio::error::eof);
}

// A vat dialing itself (E refuses it too): an initiator that holds bob's own
// key (a process sharing bob's store, or a stolen key) completes Noise, and
// bob refuses the session, saying why in a close frame: the initiator proved
// it holds bob's key, so the reason is no oracle. Bob's side says it as well.
TEST_F(ChannelAttack, AnInitiatorPresentingTheRespondersOwnIdentityIsRefusedWithAReason) {
  respond();
  Identity bob_again = Identity::from_seed(bob.seed());
  auto hs = CaptpHandshake::initiator(bob_again, bob.id());
  write_raw(io, *raw, hs.write_message());
  ASSERT_TRUE(hs.read_message(read_raw(io, *raw, kHandshakeMessage2Bytes)));
  write_raw(io, *raw, hs.write_message());
  ASSERT_TRUE(run_until(io, [&] { return victim.done; }));
  EXPECT_FALSE(victim.ch);
  ASSERT_TRUE(victim.handshake_error);
  EXPECT_EQ(victim.handshake_error->kind, ErrorKind::failed);
  EXPECT_NE(victim.handshake_error->reason.find("this vat's own identity"), std::string::npos)
      << victim.handshake_error->reason;

  // The initiator's view: one close frame with the reason, then EOF.
  FrameOpener opener(hs.finish().receive);
  Bytes length = read_raw(io, *raw, kFrameLengthBytes);
  ASSERT_EQ(length.size(), kFrameLengthBytes);
  std::uint32_t L = decode_frame_length(length.data());
  ASSERT_TRUE(opener.check_length(L));
  Bytes body = read_raw(io, *raw, L);
  ASSERT_EQ(body.size(), L);
  auto opened = opener.open_in_place(length.data(), body.data(), L);
  ASSERT_TRUE(opened) << opened.error();
  EXPECT_EQ(opened.value().kind, FrameKind::close);
  std::string reason(reinterpret_cast<const char*>(body.data() + opened.value().payload_offset),
                     opened.value().payload_size);
  EXPECT_NE(reason.find("a vat does not dial itself"), std::string::npos) << reason;
  EXPECT_EQ(next_read_error(io, *raw), asio::error::eof);
}

TEST_F(ChannelAttack, AVatDoesNotDialItself) {
  auto [a, b] = memory_pipe(io, io);
  Side s;
  EXPECT_THROW(SecureChannel::initiate(io, std::move(a), bob, bob.id(), {}, s.handshake()), VatError);
}

struct Flip {
  int message;         // 1..3
  std::size_t offset;  // within that message
};

class HandshakeBitFlip : public ChannelAttack, public ::testing::WithParamInterface<Flip> {};

TEST_P(HandshakeBitFlip, FailsWithAReasonOnTheSideThatReadsIt) {
  auto [message, offset] = GetParam();
  auto [sa, sb] = memory_pipe(io, io);
  std::size_t alice_wrote = 0, bob_wrote = 0;
  // Messages 1 and 3 are alice's writes (3 starts after 1's 48 bytes), 2 is bob's.
  std::optional<std::size_t> alice_flip, bob_flip;
  if (message == 1) alice_flip = offset;
  if (message == 2) bob_flip = offset;
  if (message == 3) alice_flip = kHandshakeMessage1Bytes + offset;
  Side a;
  SecureChannel::initiate(io, std::make_unique<TamperStream>(std::move(sa), &alice_wrote, alice_flip), alice, bob.id(),
                          {}, a.handshake());
  SecureChannel::respond(io, std::make_unique<TamperStream>(std::move(sb), &bob_wrote, bob_flip), bob, {},
                         victim.handshake());
  ASSERT_TRUE(run_until(io, [&] { return a.done && victim.done; }));
  EXPECT_FALSE(victim.ch);
  if (message == 1) {
    EXPECT_EQ(victim.handshake_error->reason, "handshake: peer sent garbage (message 1 failed to authenticate)");
    EXPECT_EQ(a.handshake_error->kind, ErrorKind::disconnected);
  } else if (message == 2) {
    EXPECT_EQ(*a.handshake_error, (Error{ErrorKind::failed, "handshake: responder is not " + bob.id().to_text() +
                                                                ": authentication failed on message 2"}));
    EXPECT_EQ(alice_wrote, kHandshakeMessage1Bytes);
    EXPECT_EQ(victim.handshake_error->reason,
              "handshake: peer closed the connection after 0 of 124 bytes of message 3");
  } else {
    EXPECT_EQ(*victim.handshake_error, (Error{ErrorKind::failed, "handshake: message 3 failed to authenticate"}));
    // Noise XK: the initiator finishes on sending message 3 and learns of the
    // failure only as the responder hanging up.
    ASSERT_TRUE(a.ch);
    a.start();
    ASSERT_TRUE(run_until(io, [&] { return a.closed.has_value(); }));
    EXPECT_EQ(*a.closed, (Error{ErrorKind::disconnected, "connection closed by peer"}));
    EXPECT_TRUE(a.received.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(EveryMessage, HandshakeBitFlip,
                         ::testing::Values(Flip{1, 0}, Flip{1, 31}, Flip{1, 47}, Flip{2, 0}, Flip{2, 40}, Flip{3, 0},
                                           Flip{3, 47}, Flip{3, 60}, Flip{3, 95}));

TEST_F(ChannelAttack, GarbageInsteadOfMessageOneIsRefused) {
  respond();
  Bytes junk(4096);
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<std::uint8_t>(i * 37 + 11);
  write_raw(io, *raw, junk);
  expect_handshake_refused("handshake: peer sent garbage (message 1 failed to authenticate)");
}

TEST_F(ChannelAttack, AnHttpRequestIsRefusedAndNamed) {
  respond();
  std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  write_raw(io, *raw, bytes(get + std::string(48 - get.size(), ' ')));
  expect_handshake_refused(
      "handshake: peer sent garbage (message 1 failed to authenticate): it looks like an HTTP request");
}

TEST_F(ChannelAttack, ATruncatedHttpRequestEndsAsADisconnect) {
  respond();
  write_raw(io, *raw, bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  raw->close();
  ASSERT_TRUE(run_until(io, [&] { return victim.done; }));
  EXPECT_FALSE(victim.ch);
  EXPECT_EQ(
      *victim.handshake_error,
      (Error{ErrorKind::disconnected, "handshake: peer closed the connection after 27 of 48 bytes of message 1"}));
}

// --- After the handshake: mallory holds a valid key and breaks the framing.

TEST_F(ChannelAttack, ATruncatedFrameThenEofIsADisconnect) {
  handshake_as_mallory();
  Bytes f = frame(FrameKind::data, "this frame never ends");
  std::size_t whole = f.size();
  f.resize(whole - 5);
  write_raw(io, *raw, f);
  raw->close();
  ASSERT_TRUE(run_until(io, [&] { return victim.closed.has_value(); }));
  EXPECT_EQ(*victim.closed, (Error{ErrorKind::disconnected, "connection closed by peer in the middle of a frame (" +
                                                                std::to_string(whole - 5) + " of " +
                                                                std::to_string(whole) + " bytes)"}));
  EXPECT_TRUE(victim.received.empty());
}

TEST_F(ChannelAttack, AReplayedFrameIsRefused) {
  handshake_as_mallory();
  Bytes f = frame(FrameKind::data, "pay bob 10");
  Bytes twice = f;
  twice.insert(twice.end(), f.begin(), f.end());
  write_raw(io, *raw, twice);
  expect_victim_closed(ErrorKind::failed, "frame 2: frame authentication failed");
  EXPECT_EQ(victim.received, (std::vector<std::string>{"pay bob 10"}));
}

TEST_F(ChannelAttack, ReorderedFramesAreRefused) {
  handshake_as_mallory();
  Bytes first = frame(FrameKind::data, "first");
  Bytes second = frame(FrameKind::data, "second");
  second.insert(second.end(), first.begin(), first.end());
  write_raw(io, *raw, second);
  expect_victim_closed(ErrorKind::failed, "frame 1: frame authentication failed");
  EXPECT_TRUE(victim.received.empty());
}

TEST_F(ChannelAttack, AHugeLengthIsRefusedBeforeAllocating) {
  handshake_as_mallory();
  // Only the 4 length bytes: the victim must not wait for (or allocate) 4 GiB.
  write_raw(io, *raw, {0xFF, 0xFF, 0xFF, 0xFF});
  expect_victim_closed(ErrorKind::failed, "frame 1: frame length 4294967295 exceeds the maximum of 16777216 bytes");
}

TEST_F(ChannelAttack, AZeroLengthFrameIsRefused) {
  handshake_as_mallory();
  write_raw(io, *raw, {0, 0, 0, 0});
  expect_victim_closed(ErrorKind::failed, "frame 1: frame length 0 is below the minimum of 24 bytes");
}

TEST_F(ChannelAttack, DataAfterACloseFrameIsNeverDelivered) {
  handshake_as_mallory();
  Bytes both = frame(FrameKind::close, "bye");
  Bytes after = frame(FrameKind::data, "after the close");
  both.insert(both.end(), after.begin(), after.end());
  write_raw(io, *raw, both);
  expect_victim_closed(ErrorKind::disconnected, "peer closed: bye");
  EXPECT_TRUE(victim.received.empty());
}

TEST_F(ChannelAttack, AFrameOfUnknownKindIsRefused) {
  handshake_as_mallory();
  write_raw(io, *raw, raw_frame(*to_victim, 9, "what am I"));
  expect_victim_closed(ErrorKind::failed, "frame 1: unknown frame kind 9");
  EXPECT_TRUE(victim.received.empty());
}

TEST_F(ChannelAttack, NonzeroReservedHeaderBytesAreRefused) {
  handshake_as_mallory();
  write_raw(io, *raw, raw_frame(*to_victim, 1, "data", /*reserved=*/1));
  expect_victim_closed(ErrorKind::failed, "frame 1: nonzero reserved header bytes");
}

TEST_F(ChannelAttack, AFlippedCiphertextBitIsRefused) {
  handshake_as_mallory();
  Bytes f = frame(FrameKind::data, "integrity");
  f[14] ^= 0x01;
  write_raw(io, *raw, f);
  expect_victim_closed(ErrorKind::failed, "frame 1: frame authentication failed");
}

TEST_F(ChannelAttack, ControlCharactersInACloseReasonDoNotReachTheLog) {
  handshake_as_mallory();
  write_raw(io, *raw, frame(FrameKind::close, "bye\n[FAKE] admin logged in\x1b[0m"));
  expect_victim_closed(ErrorKind::disconnected, "peer closed: bye?[FAKE] admin logged in?[0m");
}

// A responder serving many connections on one io_context keeps serving good
// clients while bad ones fail around it (and while one stalls).
TEST_F(ChannelAttack, AResponderKeepsServingAfterBadClients) {
  auto acceptor = listen(io, Address::tcp("127.0.0.1", 0));
  std::vector<std::string> refused, ended;
  std::vector<std::shared_ptr<SecureChannel>> served;
  std::function<void()> accept_loop = [&] {
    acceptor->async_accept([&](error_code ec, std::unique_ptr<Stream> s) {
      if (ec) return;
      SecureChannel::respond(io, std::move(s), bob, {}, [&](std::shared_ptr<SecureChannel> ch, Error* e) {
        if (e) return refused.push_back(e->reason);
        served.push_back(ch);
        auto* c = ch.get();
        ch->start(
            [c](std::span<const std::uint8_t> p) {  // echo
              auto& buf = c->begin_append();
              buf.insert(buf.end(), p.begin(), p.end());
              c->end_message();
              c->request_flush();
            },
            [&](const Error& e) { ended.push_back(e.reason); });
      });
      accept_loop();
    });
  };
  accept_loop();
  auto dial = [&] {
    std::unique_ptr<Stream> s;
    async_connect(io, acceptor->local_address(), [&](error_code ec, std::unique_ptr<Stream> c) {
      EXPECT_FALSE(ec);
      s = std::move(c);
    });
    EXPECT_TRUE(run_until(io, [&] { return s != nullptr; }));
    return s;
  };

  auto stalled = dial();  // connects and says nothing: its handshake waits on its deadline
  auto http = dial();
  write_raw(io, *http, bytes("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"));
  ASSERT_TRUE(run_until(io, [&] { return refused.size() == 1; }));
  EXPECT_NE(refused[0].find("it looks like an HTTP request"), std::string::npos) << refused[0];
  auto quitter = dial();
  write_raw(io, *quitter, Bytes(10, 0x42));
  quitter->close();
  ASSERT_TRUE(run_until(io, [&] { return refused.size() == 2; }));
  EXPECT_EQ(refused[1], "handshake: peer closed the connection after 10 of 48 bytes of message 1");
  auto forger = dial();  // a genuine handshake, then a forged frame
  auto hs = CaptpHandshake::initiator(mallory, bob.id());
  write_raw(io, *forger, hs.write_message());
  ASSERT_TRUE(hs.read_message(read_raw(io, *forger, kHandshakeMessage2Bytes)));
  write_raw(io, *forger, hs.write_message());
  Bytes forged(40, 0x00);
  forged[3] = 36;
  write_raw(io, *forger, forged);
  ASSERT_TRUE(run_until(io, [&] { return ended.size() == 1; }));
  EXPECT_EQ(ended[0], "frame 1: frame authentication failed");

  Side good;
  SecureChannel::initiate(io, dial(), alice, bob.id(), {}, good.handshake());
  ASSERT_TRUE(run_until(io, [&] { return good.done; }));
  ASSERT_TRUE(good.ch) << good.handshake_error->reason;
  good.start();
  auto& buf = good.ch->begin_append();
  std::string hello = "still serving?";
  buf.insert(buf.end(), hello.begin(), hello.end());
  good.ch->end_message();
  good.ch->request_flush();
  ASSERT_TRUE(run_until(io, [&] { return !good.received.empty(); }));
  EXPECT_EQ(good.received[0], hello);
  EXPECT_EQ(served.size(), 2u);  // the forger and alice
  EXPECT_EQ(served.back()->peer(), alice.id());
  EXPECT_EQ(refused.size(), 2u) << "the stalled client is still within its deadline";

  // Wind down inside the test: the server's handlers refer to its locals.
  stalled->close();
  ASSERT_TRUE(run_until(io, [&] { return refused.size() == 3; }));
  EXPECT_EQ(refused[2], "handshake: peer closed the connection after 0 of 48 bytes of message 1");
  good.ch->close("done");
  ASSERT_TRUE(run_until(io, [&] { return ended.size() == 2; }));
  EXPECT_EQ(ended[1], "peer closed: done");
  acceptor->close();
  io.run_for(50ms);
}

}  // namespace
}  // namespace vatic::captp
