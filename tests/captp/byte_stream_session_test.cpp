// A ByteStream (vat/byte_stream.h) over a real CapTP session: the window is
// kept by the writer, so it must hold when the sink is another Node behind
// an encrypted unix socket, with acknowledgements that come back as returns
// (spec/model.md, "Streams").
//
//   a (Node, producer, test thread) --unix socket--> b (Node, HashSink bootstrap, test thread)
#include "vat/byte_stream.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "tests/captp/captp_objects.h"
#include "vat/byte_sink.h"

namespace vatic::test {
namespace {

using namespace std::chrono_literals;
using Digest = std::array<unsigned char, crypto_generichash_BYTES>;

// What the sink saw; owned by the test.
struct HashLog {
  crypto_generichash_state hash;
  std::uint64_t bytes = 0, chunks = 0;
  std::uint64_t unacked = 0, max_unacked = 0;  // bytes received, not yet acknowledged
  int ends = 0;
  std::vector<std::string> aborts;
  Digest digest{};
};

// Hashes what arrives and acknowledges each write in a later turn, so that
// several writes are outstanding at once on the sink's side too.
class HashSink final : public ByteSink {
 public:
  explicit HashSink(HashLog* log) : log_(log) {}
  Promise<void> write(Bytes chunk) override {
    crypto_generichash_update(&log_->hash, chunk.data(), chunk.size());
    log_->bytes += chunk.size();
    log_->chunks += 1;
    log_->unacked += chunk.size();
    log_->max_unacked = std::max(log_->max_unacked, log_->unacked);
    auto [p, r] = make_promise<void>();
    vat().post([log = log_, n = chunk.size(), r = std::move(r)]() mutable {
      log->unacked -= n;
      r.resolve();
    });
    return p;
  }
  Promise<void> end() override {
    ++log_->ends;
    crypto_generichash_final(&log_->hash, log_->digest.data(), log_->digest.size());
    return Promise<void>::resolved();
  }
  void abort(std::string reason) override { log_->aborts.push_back(std::move(reason)); }

 private:
  HashLog* log_;
};

// The chunk at `index`: a pattern no two chunks share, made as it is sent so
// that the whole stream is never in memory on the producer's side either.
Bytes chunk_at(std::uint64_t index, std::size_t n) {
  Bytes b(n);
  std::uint64_t x = index * 0x9e3779b97f4a7c15ull + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[i] = static_cast<std::uint8_t>(x);
  }
  return b;
}

struct Produced {
  Digest digest{};
  std::size_t max_in_flight = 0;
  bool window_held = true;  // in flight never above the window, seen after every write
};

Task<void> produce(ByteStream out, std::uint64_t total, std::size_t chunk, Produced* result) {
  crypto_generichash_state hash;
  crypto_generichash_init(&hash, nullptr, 0, crypto_generichash_BYTES);
  for (std::uint64_t i = 0, sent = 0; sent < total; ++i) {
    Bytes c = chunk_at(i, static_cast<std::size_t>(std::min<std::uint64_t>(chunk, total - sent)));
    crypto_generichash_update(&hash, c.data(), c.size());
    sent += c.size();
    co_await out.write(std::move(c));
    if (out.in_flight_bytes() > out.window().max_bytes || out.in_flight_chunks() > out.window().max_chunks)
      result->window_held = false;
  }
  crypto_generichash_final(&hash, result->digest.data(), result->digest.size());
  result->max_in_flight = out.max_in_flight_bytes();
  co_await out.end();
}

std::string socket_address(const char* tag) {
  return "unix:/tmp/vatic-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".sock";
}

TEST(ByteStreamSession, SixtyFourMiBArriveIntactWithTheWindowHeldOverUnixSockets) {
  ASSERT_GE(sodium_init(), 0);
  HashLog log;  // before the vats: a queued acknowledgement may run as they drain
  Produced produced;
  TwoVats t;
  crypto_generichash_init(&log.hash, nullptr, 0, crypto_generichash_BYTES);
  t.vb.post([&] { t.b->set_bootstrap(t.vb.make<HashSink>(&log)); });
  t.vb.run_until_idle();
  captp::Address at = t.b->listen(socket_address("bytestream"));
  const std::uint64_t total = std::uint64_t{64} << 20;
  const std::size_t chunk = std::size_t{256} << 10;
  // The byte bound binds (4 chunks of 256 KiB), not the chunk count.
  const StreamWindow window{.max_chunks = 8, .max_bytes = std::size_t{1} << 20};
  Promise<void> done;
  t.va.post([&] {
    Ref<ByteSink> sink = t.a->connect<ByteSink>(t.b->id(), at);
    done = produce(ByteStream(sink, window), total, chunk, &produced);
  });
  ASSERT_TRUE(t.run_until([&] { return done.valid() && !done.pending(); }, 120s)) << log.bytes << " bytes arrived";
  ASSERT_FALSE(done.is_broken()) << to_string(done.error());
  EXPECT_EQ(log.bytes, total);
  EXPECT_EQ(log.chunks, total / chunk);
  EXPECT_EQ(log.ends, 1);
  EXPECT_TRUE(log.aborts.empty());
  EXPECT_EQ(log.digest, produced.digest);
  EXPECT_TRUE(produced.window_held);
  EXPECT_LE(produced.max_in_flight, window.max_bytes);
  EXPECT_GT(produced.max_in_flight, chunk);  // the window was used, not one chunk at a time
  EXPECT_LE(log.max_unacked, window.max_bytes);
  ::unlink(at.path.c_str());
}

// A sink that breaks a write fails the stream across the session: later
// writes and end() break with its Error, kind and reason as sent.
class FullDisk final : public ByteSink {
 public:
  Promise<void> write(Bytes) override {
    if (++writes_ == 3) throw_error(ErrorKind::overloaded, "disk full");
    return Promise<void>::resolved();
  }
  Promise<void> end() override { return Promise<void>::resolved(); }
  void abort(std::string) override {}

 private:
  int writes_ = 0;
};

TEST(ByteStreamSession, AWriteBrokenByTheRemoteSinkBreaksEndWithItsError) {
  Produced produced;
  TwoVats t;
  t.vb.post([&] { t.b->set_bootstrap(t.vb.make<FullDisk>()); });
  t.vb.run_until_idle();
  auto [ea, eb] = captp::memory_pipe(t.va.io(), t.vb.io());
  t.b->accept(std::move(eb));
  Ref<ByteSink> sink = t.a->connect<ByteSink>(t.b->id(), std::move(ea));
  Promise<void> ended;
  t.va.post([&] { ended = produce(ByteStream(sink), std::uint64_t{64} << 10, 4096, &produced); });
  t.va.run_until_idle();
  EXPECT_EQ(t.error_of(ended), (Error{ErrorKind::overloaded, "disk full"}));
  sink = {};
}

}  // namespace
}  // namespace vatic::test
