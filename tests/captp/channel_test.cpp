#include "captp/internal/net/channel.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "captp/internal/net/socket.h"
#include "captp/memory_pipe.h"

namespace vatic::captp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

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

// Counts the writes that reach the stream and, on demand, holds their
// completions back (a write "in flight" for as long as the test wants).
struct Tap {
  int writes = 0;
  bool hold = false;
  std::vector<std::function<void()>> held;
  void release() {
    hold = false;
    auto h = std::move(held);
    for (auto& f : h) f();
  }
};

class TapStream final : public Stream {
 public:
  TapStream(std::unique_ptr<Stream> inner, std::shared_ptr<Tap> tap) : inner_(std::move(inner)), tap_(std::move(tap)) {}
  void async_read_some(asio::mutable_buffer b, IoHandler h) override { inner_->async_read_some(b, std::move(h)); }
  void async_write(std::vector<asio::const_buffer> b, IoHandler h) override {
    ++tap_->writes;
    inner_->async_write(std::move(b), [tap = tap_, h = std::move(h)](error_code ec, std::size_t n) {
      if (!tap->hold) return h(ec, n);
      tap->held.push_back([h, ec, n] { h(ec, n); });
    });
  }
  void close() override { inner_->close(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::unique_ptr<Stream> inner_;
  std::shared_ptr<Tap> tap_;
};

// One end of a connection as the test sees it.
struct Side {
  std::shared_ptr<SecureChannel> ch;
  std::optional<Error> handshake_error;
  bool done = false;
  std::vector<std::string> received;  // one entry per on_data call
  int misaligned = 0;
  int closed_calls = 0;
  std::optional<Error> closed;
  std::function<void(Side&)> on_data_hook;

  SecureChannel::Done handshake() {
    return [this](std::shared_ptr<SecureChannel> c, Error* e) {
      done = true;
      if (e) handshake_error = *e;
      ch = std::move(c);
    };
  }
  void start() {
    ch->start(
        [this](std::span<const std::uint8_t> p) {
          if (reinterpret_cast<std::uintptr_t>(p.data()) % 8 != 0) ++misaligned;
          received.emplace_back(reinterpret_cast<const char*>(p.data()), p.size());
          if (on_data_hook) on_data_hook(*this);
        },
        [this](const Error& e) {
          ++closed_calls;
          closed = e;
        });
  }
  std::string all() const {
    std::string s;
    for (const auto& r : received) s += r;
    return s;
  }
};

void append(SecureChannel& ch, std::string_view msg) {
  auto& buf = ch.begin_append();
  buf.insert(buf.end(), msg.begin(), msg.end());
  ch.end_message();
}

void send(SecureChannel& ch, std::string_view msg) {
  append(ch, msg);
  ch.request_flush();
}

class Channel : public ::testing::Test {
 protected:
  asio::io_context io;
  Identity alice = Identity::generate();
  Identity bob = Identity::generate();
  std::shared_ptr<Tap> tap = std::make_shared<Tap>();  // on alice's stream
  Side a, b;                                           // a: alice, the initiator

  void TearDown() override {
    for (Side* s : {&a, &b})
      if (s->ch) s->ch->abort({ErrorKind::disconnected, "test over"});
    io.restart();
    io.run_for(200ms);
  }

  void handshake(std::unique_ptr<Stream> sa, std::unique_ptr<Stream> sb, ChannelOptions oa = {},
                 ChannelOptions ob = {}) {
    SecureChannel::initiate(io, std::make_unique<TapStream>(std::move(sa), tap), alice, bob.id(), oa, a.handshake());
    SecureChannel::respond(io, std::move(sb), bob, ob, b.handshake());
    ASSERT_TRUE(run_until(io, [&] { return a.done && b.done; }));
    ASSERT_FALSE(a.handshake_error) << a.handshake_error->reason;
    ASSERT_FALSE(b.handshake_error) << b.handshake_error->reason;
    a.start();
    b.start();
    tap->writes = 0;
  }
  void connect(ChannelOptions oa = {}, ChannelOptions ob = {}) {
    auto [sa, sb] = memory_pipe(io, io);
    handshake(std::move(sa), std::move(sb), oa, ob);
  }
  void connect_over(const Address& where, ChannelOptions oa = {}) {
    auto acceptor = listen(io, where);
    std::unique_ptr<Stream> accepted, dialled;
    acceptor->async_accept([&](error_code ec, std::unique_ptr<Stream> s) {
      ASSERT_FALSE(ec);
      accepted = std::move(s);
    });
    async_connect(io, acceptor->local_address(), [&](error_code ec, std::unique_ptr<Stream> s) {
      ASSERT_FALSE(ec) << ec.message();
      dialled = std::move(s);
    });
    ASSERT_TRUE(run_until(io, [&] { return accepted && dialled; }));
    handshake(std::move(dialled), std::move(accepted), oa);
  }
  void expect_talks_both_ways() {
    send(*a.ch, "hello bob");
    send(*b.ch, "hello alice");
    ASSERT_TRUE(run_until(io, [&] { return b.received.size() == 1 && a.received.size() == 1; }));
    EXPECT_EQ(b.received[0], "hello bob");
    EXPECT_EQ(a.received[0], "hello alice");
    EXPECT_EQ(a.ch->peer(), bob.id());
    EXPECT_EQ(b.ch->peer(), alice.id());
    EXPECT_TRUE(a.ch->is_initiator());
    EXPECT_FALSE(b.ch->is_initiator());
  }
};

TEST_F(Channel, HandshakeThenDataBothWaysOverAMemoryPipe) {
  connect();
  expect_talks_both_ways();
  EXPECT_EQ(a.ch->describe(), "memory pipe end 1");
}

TEST_F(Channel, HandshakeThenDataBothWaysOverTcp) {
  connect_over(Address::tcp("127.0.0.1", 0));
  expect_talks_both_ways();
  EXPECT_EQ(a.ch->describe().rfind("tcp 127.0.0.1:", 0), 0u);
}

TEST_F(Channel, HandshakeThenDataBothWaysOverAUnixSocket) {
  connect_over(Address::unix_socket("/tmp/vatic-channel-" + std::to_string(::getpid()) + ".sock"));
  expect_talks_both_ways();
}

TEST_F(Channel, PayloadsOfEverySizeArriveIntactAndEightByteAligned) {
  connect();
  std::string expected;
  for (std::size_t n = 1; n <= 40; ++n) {  // one frame each: offsets drift by 4 from frame to frame
    std::string m(n, static_cast<char>('a' + n % 26));
    send(*a.ch, m);
    expected += m;
    ASSERT_TRUE(run_until(io, [&] { return b.received.size() == n; }));
  }
  EXPECT_EQ(b.all(), expected);
  EXPECT_EQ(b.misaligned, 0);
}

TEST_F(Channel, MessagesAppendedInOneIterationLeaveAsOneFrameInOneWrite) {
  connect();
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    std::string m = "message " + std::to_string(i) + ";";
    send(*a.ch, m);
    expected += m;
  }
  EXPECT_EQ(a.ch->pending_bytes(), expected.size());
  EXPECT_EQ(a.ch->unsent_bytes(), expected.size());
  ASSERT_TRUE(run_until(io, [&] { return !b.received.empty(); }));
  EXPECT_EQ(tap->writes, 1);
  ASSERT_EQ(b.received.size(), 1u);
  EXPECT_EQ(b.received[0], expected);
  ASSERT_TRUE(run_until(io, [&] { return a.ch->unsent_bytes() == 0; }));
}

TEST_F(Channel, AppendsDuringAWriteInFlightGoOutTogetherAfterIt) {
  connect();
  tap->hold = true;
  send(*a.ch, "first");
  io.poll();
  EXPECT_EQ(tap->writes, 1);
  send(*a.ch, "second,");
  io.poll();
  send(*a.ch, "third");
  io.poll();
  EXPECT_EQ(tap->writes, 1) << "nothing else is written while a write is in flight";
  EXPECT_EQ(a.ch->pending_bytes(), std::string("second,third").size());
  EXPECT_GT(a.ch->unsent_bytes(), a.ch->pending_bytes());
  tap->release();
  ASSERT_TRUE(run_until(io, [&] { return b.received.size() == 2; }));
  EXPECT_EQ(tap->writes, 2);
  EXPECT_EQ(b.received, (std::vector<std::string>{"first", "second,third"}));
}

TEST_F(Channel, AFlushLargerThanAFrameIsCutAtMessageBoundaries) {
  ChannelOptions small;
  small.max_frame = 1024;  // 1000 bytes of payload
  connect(small, small);
  EXPECT_EQ(a.ch->max_message_bytes(), 1000u);
  std::string expected;
  for (int i = 0; i < 30; ++i) {
    std::string m(300, static_cast<char>('A' + i % 26));
    append(*a.ch, m);
    expected += m;
  }
  a.ch->request_flush();
  ASSERT_TRUE(run_until(io, [&] { return b.all().size() == expected.size(); }));
  EXPECT_EQ(tap->writes, 1) << "all frames leave in one write";
  EXPECT_EQ(b.received.size(), 10u);
  for (const auto& r : b.received) EXPECT_EQ(r.size(), 900u) << "three whole messages per frame";
  EXPECT_EQ(b.all(), expected);
  EXPECT_EQ(b.misaligned, 0);
}

TEST_F(Channel, LargeMessagesLeaveFrameByFrameOneWriteEach) {
  connect();
  tap->hold = true;
  // Three 300 KiB messages and small ones around them, all in one iteration:
  // a frame closes after the message that takes it past 256 KiB, and frames
  // that large are sealed and written one at a time.
  std::vector<std::string> sent;
  std::string expected;
  for (int i = 0; i < 3; ++i) {
    std::string big(300 << 10, static_cast<char>('A' + i));
    sent.push_back("small " + std::to_string(i) + ";");
    sent.push_back(big);
    for (int k = i * 2; k < i * 2 + 2; ++k) {
      append(*a.ch, sent[k]);
      expected += sent[k];
    }
  }
  append(*a.ch, "tail");
  expected += "tail";
  EXPECT_EQ(a.ch->pending_bytes(), expected.size()) << "frame prefixes and tags are not pending payload";
  a.ch->request_flush();
  io.poll();
  EXPECT_EQ(tap->writes, 1) << "the first frame is written before the next is sealed";
  EXPECT_EQ(a.ch->unsent_bytes(), a.ch->pending_bytes() + expected.size() + 4 * (12 + 16));
  tap->release();
  for (int w = 2; w <= 4; ++w) {
    ASSERT_TRUE(run_until(io, [&] { return tap->writes == w; }));
    tap->release();
  }
  tap->hold = false;
  ASSERT_TRUE(run_until(
      io, [&] { return b.all().size() == expected.size(); }, 20000ms));
  EXPECT_EQ(tap->writes, 4);
  ASSERT_EQ(b.received.size(), 4u);
  EXPECT_EQ(b.received[0], sent[0] + sent[1]);
  EXPECT_EQ(b.received[3], "tail");
  EXPECT_EQ(b.all(), expected);
  EXPECT_EQ(b.misaligned, 0);
  ASSERT_TRUE(run_until(io, [&] { return a.ch->unsent_bytes() == 0; }));
  b.received.clear();
  expect_talks_both_ways();
}

TEST_F(Channel, AMessageThatDoesNotFitBehindOthersStartsTheNextFrame) {
  ChannelOptions small;
  small.max_frame = 1024;  // 1000 bytes of payload
  connect(small, small);
  append(*a.ch, std::string(400, 'a'));
  append(*a.ch, std::string(700, 'b'));  // 1100 with the first: moves to a frame of its own
  append(*a.ch, std::string(1000, 'c'));
  a.ch->request_flush();
  ASSERT_TRUE(run_until(io, [&] { return b.received.size() == 3; }));
  EXPECT_EQ(b.received,
            (std::vector<std::string>{std::string(400, 'a'), std::string(700, 'b'), std::string(1000, 'c')}));
  EXPECT_EQ(b.misaligned, 0);
}

TEST_F(Channel, AMessageLargerThanAFrameIsRefusedAndRemoved) {
  ChannelOptions small;
  small.max_frame = 1024;
  connect(small, small);
  append(*a.ch, "kept");
  auto& buf = a.ch->begin_append();
  buf.insert(buf.end(), 1001, 'x');
  try {
    a.ch->end_message();
    FAIL() << "accepted a message larger than a frame";
  } catch (const VatError& e) {
    EXPECT_NE(e.error().reason.find("exceeds the largest frame payload (1000 bytes)"), std::string::npos);
  }
  a.ch->request_flush();
  ASSERT_TRUE(run_until(io, [&] { return !b.received.empty(); }));
  EXPECT_EQ(b.received, (std::vector<std::string>{"kept"}));
}

TEST_F(Channel, BytesAppendedWithoutMessageEndsAreCutAtTheFrameSize) {
  ChannelOptions small;
  small.max_frame = 1024;
  connect(small, small);
  auto& buf = a.ch->begin_append();
  std::string raw(2500, 'r');
  buf.insert(buf.end(), raw.begin(), raw.end());
  a.ch->request_flush();
  ASSERT_TRUE(run_until(io, [&] { return b.all().size() == raw.size(); }));
  ASSERT_EQ(b.received.size(), 3u);
  EXPECT_EQ(b.received[0].size(), 1000u);
  EXPECT_EQ(b.received[2].size(), 500u);
}

TEST_F(Channel, LargeFramesArriveWhole) {
  connect();
  std::string big(5 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + (i >> 12));
  send(*a.ch, big);
  send(*b.ch, big);
  ASSERT_TRUE(run_until(
      io, [&] { return b.received.size() == 1 && a.received.size() == 1; }, 20000ms));
  EXPECT_TRUE(b.received[0] == big);
  EXPECT_TRUE(a.received[0] == big);
  a.received.clear();
  b.received.clear();
  expect_talks_both_ways();  // and the buffers still work after shrinking back
}

// A session that carried a large frame gives the memory back at its next
// small frame: an idle session costs its 64 KiB read chunk, not the largest
// frame it ever saw (one per connection would exhaust memory).
TEST_F(Channel, TheReceiveBufferShrinksBackAfterBulkEnds) {
  connect();
  std::size_t idle = b.ch->receive_capacity();
  EXPECT_LE(idle, std::size_t{65 << 10});
  send(*a.ch, std::string(1 << 20, 'x'));
  ASSERT_TRUE(run_until(
      io, [&] { return b.received.size() == 1; }, 20000ms));
  EXPECT_GT(b.ch->receive_capacity(), std::size_t{1} << 20) << "kept for the next large frame";
  send(*a.ch, "small");
  ASSERT_TRUE(run_until(io, [&] { return b.received.size() == 2; }));
  EXPECT_EQ(b.received[1], "small");
  EXPECT_LE(b.ch->receive_capacity(), idle) << "one large frame pinned its buffer";
  b.received.clear();
  expect_talks_both_ways();
}

TEST_F(Channel, KeysRotateEveryFewFramesInBothDirections) {
  ChannelOptions rekey;
  rekey.rekey_every = 3;
  connect(rekey, rekey);
  for (std::size_t i = 1; i <= 40; ++i) {
    send(*a.ch, "to bob " + std::to_string(i));
    send(*b.ch, "to alice " + std::to_string(i));
    ASSERT_TRUE(run_until(io, [&] { return a.received.size() == i && b.received.size() == i; })) << i;
    EXPECT_EQ(b.received.back(), "to bob " + std::to_string(i));
  }
  EXPECT_FALSE(a.closed);
  EXPECT_FALSE(b.closed);
}

TEST_F(Channel, ASilentPeerHitsTheIdleDeadline) {
  ChannelOptions quick, silent;
  quick.idle_timeout = 100ms;
  silent.idle_timeout = Duration::zero();  // never pings
  auto [sa, sb] = memory_pipe(io, io);
  SecureChannel::initiate(io, std::move(sa), alice, bob.id(), quick, a.handshake());
  SecureChannel::respond(io, std::move(sb), bob, silent, b.handshake());
  ASSERT_TRUE(run_until(io, [&] { return a.done && b.done; }));
  auto t0 = std::chrono::steady_clock::now();
  a.start();  // bob never starts: he reads and says nothing
  ASSERT_TRUE(run_until(io, [&] { return a.closed.has_value(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
  EXPECT_EQ(*a.closed, (Error{ErrorKind::disconnected, "idle deadline of 100 ms exceeded"}));
}

TEST_F(Channel, ALivePeerIsKeptAliveByPings) {
  ChannelOptions quick;
  quick.idle_timeout = 150ms;
  connect(quick, quick);
  EXPECT_FALSE(run_until(
      io, [&] { return a.closed || b.closed; }, 800ms))
      << "pings keep both ends alive";
  EXPECT_GT(tap->writes, 2) << "alice pinged";
  EXPECT_TRUE(a.received.empty()) << "pings are not data";
  expect_talks_both_ways();
}

// A write the peer holds up (a slow reader) counts as sending: the keepalive
// alarm must not land in the past and fire again at once, turn after turn,
// while it waits (the simulation's seeds 5157 and 5531 spun there forever).
TEST_F(Channel, AKeepaliveBehindAHeldWriteWaitsInsteadOfSpinning) {
  ChannelOptions quick, quiet;
  quick.idle_timeout = 60ms;              // alice looks every 20 ms
  quiet.idle_timeout = Duration::zero();  // bob never pings and has no deadline
  connect(quick, quiet);
  a.ch->pause_reading();  // not reading: alice's silence is her own, no deadline
  tap->hold = true;       // alice's next write stays in flight
  send(*a.ch, "held");
  io.restart();
  std::size_t handlers = io.run_for(300ms);
  // About 15 keepalive looks: 20 handlers here. The alarm that landed in the
  // past ran over 10 000 in this time.
  EXPECT_LT(handlers, 500u) << "the keepalive alarm fired again and again behind the held write";
  if (a.closed) ADD_FAILURE() << "alice closed: " << a.closed->reason;
  tap->release();
  a.ch->resume_reading();
  ASSERT_TRUE(run_until(io, [&] { return b.all() == "held"; }));
}

TEST_F(Channel, PausedReadingIsNotIdleAndResumesInOrder) {
  ChannelOptions quick;
  quick.idle_timeout = 100ms;
  connect(quick, quick);
  b.on_data_hook = [](Side& s) { s.ch->pause_reading(); };
  send(*a.ch, "one");
  io.poll();
  send(*a.ch, "two");
  io.poll();
  send(*a.ch, "three");
  EXPECT_FALSE(run_until(
      io, [&] { return b.received.size() > 1 || b.closed; }, 400ms));
  EXPECT_EQ(b.received, (std::vector<std::string>{"one"}));
  b.on_data_hook = nullptr;
  b.ch->resume_reading();
  ASSERT_TRUE(run_until(io, [&] { return b.all() == "onetwothree"; }));
  EXPECT_FALSE(b.closed);
}

TEST_F(Channel, HandshakeDeadlineEndsAStalledHandshake) {
  ChannelOptions quick;
  quick.handshake_timeout = 100ms;
  auto [silent, sb] = memory_pipe(io, io);  // nobody speaks on `silent`
  SecureChannel::respond(io, std::move(sb), bob, quick, b.handshake());
  ASSERT_TRUE(run_until(io, [&] { return b.done; }));
  ASSERT_TRUE(b.handshake_error);
  EXPECT_FALSE(b.ch);
  EXPECT_EQ(b.handshake_error->kind, ErrorKind::disconnected);
  EXPECT_EQ(b.handshake_error->reason.rfind("handshake deadline of 100 ms exceeded", 0), 0u)
      << b.handshake_error->reason;
}

TEST_F(Channel, CloseFlushesThenItsReasonReachesThePeer) {
  connect();
  send(*a.ch, "last words");
  a.ch->close("shutting down");
  ASSERT_TRUE(a.closed) << "on_closed runs before close() returns";
  EXPECT_EQ(*a.closed, (Error{ErrorKind::disconnected, "closed locally: shutting down"}));
  ASSERT_TRUE(run_until(io, [&] { return b.closed.has_value(); }));
  EXPECT_EQ(b.received, (std::vector<std::string>{"last words"}));
  EXPECT_EQ(*b.closed, (Error{ErrorKind::disconnected, "peer closed: shutting down"}));
  a.ch->close("again");
  EXPECT_EQ(a.closed_calls, 1);
  EXPECT_EQ(b.closed_calls, 1);
}

TEST_F(Channel, ALongCloseReasonIsCutToWholeCharacters) {
  connect();
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xE2\x82\xAC";  // €, three bytes: 256 is mid-character
  a.ch->close(reason);
  EXPECT_EQ(a.closed->reason, "closed locally: " + reason) << "the local reason is not cut";
  ASSERT_TRUE(run_until(io, [&] { return b.closed.has_value(); }));
  EXPECT_EQ(b.closed->reason, "peer closed: " + reason.substr(0, 255));
}

TEST_F(Channel, CloseGivesUpOnAPeerThatDoesNotRead) {
  ChannelOptions impatient;
  impatient.close_linger = 100ms;
  connect_over(Address::tcp("127.0.0.1", 0), impatient);
  b.ch->pause_reading();
  std::string chunk(4 << 20, 'x');
  for (int i = 0; i < 16; ++i) send(*a.ch, chunk);  // 64 MiB: far more than the socket buffers hold
  EXPECT_FALSE(run_until(
      io, [&] { return a.ch->unsent_bytes() == 0; }, 300ms));
  auto t0 = std::chrono::steady_clock::now();
  a.ch->close("bye");
  ASSERT_TRUE(run_until(io, [&] { return a.ch.use_count() == 1; })) << "the stuck write let go of the channel";
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
}

TEST_F(Channel, CloseInsideOnDataStopsDeliveryOfFramesAlreadyRead) {
  ChannelOptions small;
  small.max_frame = 1024;
  connect(small, small);
  b.on_data_hook = [](Side& s) { s.ch->close("enough"); };
  for (int i = 0; i < 3; ++i) append(*a.ch, std::string(600, 'z'));  // three frames, one write
  a.ch->request_flush();
  ASSERT_TRUE(run_until(io, [&] { return a.closed.has_value(); }));
  EXPECT_EQ(b.received.size(), 1u);
  EXPECT_EQ(b.closed_calls, 1);
  EXPECT_EQ(*a.closed, (Error{ErrorKind::disconnected, "peer closed: enough"}));
}

TEST_F(Channel, AbortIsSeenAsADisconnect) {
  connect();
  a.ch->abort({ErrorKind::failed, "protocol violation"});
  EXPECT_EQ(*a.closed, (Error{ErrorKind::failed, "protocol violation"}));
  ASSERT_TRUE(run_until(io, [&] { return b.closed.has_value(); }));
  EXPECT_EQ(*b.closed, (Error{ErrorKind::disconnected, "connection closed by peer"}));
}

TEST_F(Channel, AnEndBeforeStartIsReportedByStart) {
  auto [sa, sb] = memory_pipe(io, io);
  SecureChannel::initiate(io, std::move(sa), alice, bob.id(), {}, a.handshake());
  SecureChannel::respond(io, std::move(sb), bob, {}, b.handshake());
  ASSERT_TRUE(run_until(io, [&] { return a.done && b.done; }));
  b.ch->abort({ErrorKind::failed, "bye"});
  send(*a.ch, "into the void");
  ASSERT_TRUE(run_until(io, [&] { return !a.ch->is_open(); }));
  a.start();
  EXPECT_FALSE(a.closed) << "posted, not inline";
  ASSERT_TRUE(run_until(io, [&] { return a.closed.has_value(); }));
  EXPECT_EQ(a.closed->kind, ErrorKind::disconnected);
  EXPECT_NE(a.closed->reason.find("write failed"), std::string::npos) << a.closed->reason;
}

// Each end on its own io_context and thread, as two vats of one process.
TEST(ChannelThreads, EchoAcrossTwoThreads) {
  asio::io_context io_a, io_b;
  auto guard_a = asio::make_work_guard(io_a);
  auto guard_b = asio::make_work_guard(io_b);
  auto alice = Identity::generate();
  auto bob = Identity::generate();
  auto [sa, sb] = memory_pipe(io_a, io_b);
  constexpr int kRounds = 500;
  std::shared_ptr<SecureChannel> ca, cb;
  std::promise<std::string> finished_promise;
  bool reported = false;  // only touched on io_a's thread
  auto finished = [&](std::string outcome) {
    if (!std::exchange(reported, true)) finished_promise.set_value(std::move(outcome));
  };
  int echoed = 0;
  auto fut = finished_promise.get_future();

  asio::post(io_b, [&, s = sb.release()] {
    SecureChannel::respond(io_b, std::unique_ptr<Stream>(s), bob, {}, [&](auto c, Error* e) {
      if (e) return;
      cb = c;
      cb->start(
          [&](std::span<const std::uint8_t> p) {
            send(*cb, {reinterpret_cast<const char*>(p.data()), p.size()});
          },
          [](const Error&) {});
    });
  });
  asio::post(io_a, [&, s = sa.release()] {
    SecureChannel::initiate(io_a, std::unique_ptr<Stream>(s), alice, bob.id(), {}, [&](auto c, Error* e) {
      if (e) return finished("handshake: " + e->reason);
      ca = c;
      ca->start(
          [&](std::span<const std::uint8_t> p) {
            std::string got(reinterpret_cast<const char*>(p.data()), p.size());
            if (got != "round " + std::to_string(echoed)) return finished("wrong echo: " + got);
            if (++echoed == kRounds) return finished("ok");
            send(*ca, "round " + std::to_string(echoed));
          },
          [&](const Error& e) { finished("closed: " + e.reason); });
      send(*ca, "round 0");
    });
  });
  std::thread ta([&] { io_a.run(); });
  std::thread tb([&] { io_b.run(); });
  bool in_time = fut.wait_for(30s) == std::future_status::ready;
  if (!in_time) io_a.stop(), io_b.stop();
  asio::post(io_a, [&] {
    if (ca) ca->close("done");
    ca.reset();
    guard_a.reset();
  });
  asio::post(io_b, [&] {
    if (cb) cb->abort({ErrorKind::disconnected, "done"});
    cb.reset();
    guard_b.reset();
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(in_time);
  EXPECT_EQ(fut.get(), "ok");
}

}  // namespace
}  // namespace vatic::captp
