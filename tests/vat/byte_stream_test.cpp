#include "vat/byte_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/vat/test_objects.h"
#include "vat/byte_sink.h"

namespace vatic {
namespace {

// What a test sink saw; owned by the test, outlives the sink.
struct SinkLog {
  std::vector<Bytes> chunks;
  int ends = 0;
  std::size_t writes_before_end = 0;  // chunks received when end() arrived
  std::vector<std::string> aborts;
  bool destroyed = false;
  // Manual mode: writes wait here, oldest first, until the test acks them.
  std::deque<std::pair<Resolver<void>, std::size_t>> waiting;
  std::size_t outstanding_bytes = 0, max_outstanding_bytes = 0, max_outstanding_chunks = 0;
  std::optional<std::size_t> fail_at;  // this write (0-based) breaks
  Error failure{ErrorKind::overloaded, "disk full"};

  Bytes all() const {
    Bytes out;
    for (const auto& c : chunks) out.insert(out.end(), c.begin(), c.end());
    return out;
  }
};

// Counts what it holds unacknowledged: the bound the window promises, seen
// from the sink's side.
class TestSink final : public ByteSink {
 public:
  TestSink(SinkLog* log, bool manual) : log_(log), manual_(manual) {}
  ~TestSink() override { log_->destroyed = true; }

  Promise<void> write(Bytes chunk) override {
    std::size_t index = log_->chunks.size(), n = chunk.size();
    log_->chunks.push_back(std::move(chunk));
    if (log_->fail_at == index) return Promise<void>::broken(log_->failure);
    if (!manual_) return Promise<void>::resolved();
    auto [p, r] = make_promise<void>();
    log_->waiting.emplace_back(std::move(r), n);
    log_->outstanding_bytes += n;
    log_->max_outstanding_bytes = std::max(log_->max_outstanding_bytes, log_->outstanding_bytes);
    log_->max_outstanding_chunks = std::max(log_->max_outstanding_chunks, log_->waiting.size());
    return p;
  }
  Promise<void> end() override {
    ++log_->ends;
    log_->writes_before_end = log_->chunks.size();
    return Promise<void>::resolved();
  }
  void abort(std::string reason) override { log_->aborts.push_back(std::move(reason)); }

 private:
  SinkLog* log_;
  bool manual_;
};

Bytes chunk_of(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return b;
}

// A producer as a program writes one: each write awaited, then end().
Task<void> produce(ByteStream out, std::vector<std::size_t> sizes) {
  for (std::size_t i = 0; i < sizes.size(); ++i) co_await out.write(chunk_of(sizes[i], static_cast<std::uint8_t>(i)));
  co_await out.end();
}

// The same, with the stream shared with the test, which watches it.
Task<void> produce_shared(std::shared_ptr<ByteStream> out, std::vector<std::size_t> sizes) {
  for (std::size_t i = 0; i < sizes.size(); ++i) co_await out->write(chunk_of(sizes[i], static_cast<std::uint8_t>(i)));
  co_await out->end();
}

struct Harness {
  Vat vat;
  SinkLog log;
  Ref<ByteSink> sink;

  explicit Harness(bool manual) {
    vat.post([this, manual] { sink = vat.make<TestSink>(&log, manual); });
    vat.run_until_idle();
  }
  ~Harness() {
    vat.post([this] { sink = {}; });
    vat.run_until_idle();
  }
  // Runs f as a turn and drives the vat until idle; returns what f returned
  // (a promise as it is, pending or not).
  template <class F>
  auto turn(F f) {
    using R = decltype(f());
    if constexpr (std::is_void_v<R>) {
      vat.post(std::move(f));
      vat.run_until_idle();
    } else {
      std::optional<R> out;
      vat.post([&] { out.emplace(f()); });
      vat.run_until_idle();
      return std::move(*out);
    }
  }
  // Acknowledges the oldest (or the newest) write the sink holds.
  bool ack(bool newest = false) {
    if (log.waiting.empty()) return false;
    vat.post([this, newest] {
      auto w = newest ? std::move(log.waiting.back()) : std::move(log.waiting.front());
      newest ? log.waiting.pop_back() : log.waiting.pop_front();
      log.outstanding_bytes -= w.second;
      w.first.resolve();
    });
    vat.run_until_idle();
    return true;
  }
};

TEST(ByteStream, ChunksArriveInOrderAndEndFollowsTheLast) {
  Harness h(true);
  std::vector<std::size_t> sizes;
  Bytes want;
  for (std::size_t i = 0; i < 60; ++i) {
    sizes.push_back(1 + (i * 7919) % 5000);
    Bytes c = chunk_of(sizes.back(), static_cast<std::uint8_t>(i));
    want.insert(want.end(), c.begin(), c.end());
  }
  // All written in one turn: most wait in the writer's queue, and leave it
  // in order as acknowledgements (newest first) make room.
  Promise<void> done = h.turn([&] {
    ByteStream out(h.sink);
    for (std::size_t i = 0; i < sizes.size(); ++i) out.write(chunk_of(sizes[i], static_cast<std::uint8_t>(i)));
    return out.end();
  });
  while (h.ack(true)) {
  }
  ASSERT_FALSE(done.pending());
  EXPECT_FALSE(done.is_broken());
  EXPECT_EQ(h.log.chunks.size(), sizes.size());
  EXPECT_EQ(h.log.all(), want);
  EXPECT_EQ(h.log.ends, 1);
  EXPECT_EQ(h.log.writes_before_end, sizes.size());
}

TEST(ByteStream, TheWindowBoundsWhatTheSinkHoldsUnacknowledged) {
  struct Case {
    std::size_t chunk;
    StreamWindow window;
    std::size_t stalls_at;  // chunks outstanding when the producer waits
  };
  for (Case c : {Case{300 << 10, StreamWindow{}, 3},  // bytes bound: 3 x 300 KiB <= 1 MiB
                 Case{100 << 10, StreamWindow{}, 4},  // chunk bound
                 Case{1000, StreamWindow{.max_chunks = 16, .max_bytes = 4500}, 4}}) {
    Harness h(true);
    std::vector<std::size_t> sizes(20, c.chunk);
    std::shared_ptr<ByteStream> out;
    Promise<void> done = h.turn([&] {
      out = std::make_shared<ByteStream>(h.sink, c.window);
      return Promise<void>(produce_shared(out, sizes));
    });
    std::size_t steps = 0;
    do {
      // The producer ran as far as the window let it.
      std::size_t left = sizes.size() - (h.log.chunks.size() - h.log.waiting.size());
      EXPECT_EQ(h.log.waiting.size(), std::min(c.stalls_at, left)) << "chunk " << c.chunk << " step " << steps;
      EXPECT_LE(h.log.outstanding_bytes, c.window.max_bytes);
      EXPECT_EQ(out->in_flight_bytes(), h.log.outstanding_bytes);
      ++steps;
    } while (h.ack());
    EXPECT_EQ(h.log.max_outstanding_chunks, c.stalls_at);
    EXPECT_LE(h.log.max_outstanding_bytes, c.window.max_bytes);
    EXPECT_LE(out->max_in_flight_bytes(), c.window.max_bytes);
    EXPECT_EQ(out->acknowledged_bytes(), 20 * c.chunk);
    ASSERT_FALSE(done.pending());
    EXPECT_FALSE(done.is_broken());
    EXPECT_EQ(h.log.ends, 1);
    h.turn([&] { out.reset(); });
  }
}

TEST(ByteStream, WriteReturnsAtOnceWhileTheWindowHasRoomAndWaitsOtherwise) {
  Harness h(true);
  std::shared_ptr<ByteStream> out;
  std::vector<Promise<void>> writes = h.turn([&] {
    out = std::make_shared<ByteStream>(h.sink, StreamWindow{.max_chunks = 4, .max_bytes = 1 << 20});
    std::vector<Promise<void>> ws;
    for (int i = 0; i < 6; ++i) ws.push_back(out->write(chunk_of(10, static_cast<std::uint8_t>(i))));
    return ws;
  });
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(writes[i].ready()) << i;
  EXPECT_TRUE(writes[4].pending());
  EXPECT_TRUE(writes[5].pending());
  EXPECT_EQ(h.log.chunks.size(), 4u);  // the queued ones are not sent yet
  h.ack();
  EXPECT_TRUE(writes[4].ready());
  EXPECT_TRUE(writes[5].pending());
  EXPECT_EQ(h.log.chunks.size(), 5u);
  while (h.ack()) {
  }
  EXPECT_TRUE(writes[5].ready());
  EXPECT_EQ(h.log.all().size(), 60u);
  h.turn([&] { out.reset(); });
}

TEST(ByteStream, AChunkLargerThanTheByteWindowGoesAlone) {
  Harness h(true);
  std::shared_ptr<ByteStream> out;
  auto writes = h.turn([&] {
    out = std::make_shared<ByteStream>(h.sink, StreamWindow{.max_chunks = 4, .max_bytes = 100});
    return std::vector<Promise<void>>{out->write(chunk_of(10, 1)), out->write(chunk_of(500, 2)),
                                      out->write(chunk_of(10, 3))};
  });
  EXPECT_EQ(h.log.chunks.size(), 1u);
  h.ack();
  EXPECT_EQ(h.log.chunks.size(), 2u);  // alone: nothing else in flight
  EXPECT_TRUE(writes[2].pending());
  h.ack();
  EXPECT_EQ(h.log.chunks.size(), 3u);
  while (h.ack()) {
  }
  h.turn([&] { out.reset(); });
}

TEST(ByteStream, ABrokenWriteBreaksEveryLaterWriteAndEndWithItsError) {
  Harness h(false);
  h.log.fail_at = 2;
  std::shared_ptr<ByteStream> out;
  std::vector<Promise<void>> writes;
  Promise<void> ended = h.turn([&] {
    out = std::make_shared<ByteStream>(h.sink, StreamWindow{.max_chunks = 4, .max_bytes = 1 << 20});
    for (int i = 0; i < 8; ++i) writes.push_back(out->write(chunk_of(10, static_cast<std::uint8_t>(i))));
    return out->end();
  });
  ASSERT_TRUE(ended.is_broken());
  EXPECT_EQ(ended.error(), h.log.failure);
  EXPECT_EQ(out->error(), h.log.failure);
  // Writes 0 and 1 were acknowledged before 2 broke, and let 4 and 5 go;
  // those still waiting for room then (6, 7) break with its Error, unsent.
  ASSERT_EQ(h.log.chunks.size(), 6u);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (i < h.log.chunks.size()) {
      EXPECT_TRUE(writes[i].ready()) << i;
    } else {
      ASSERT_TRUE(writes[i].is_broken()) << i;
      EXPECT_EQ(writes[i].error(), h.log.failure) << i;
    }
  }
  EXPECT_EQ(h.log.ends, 0);
  Promise<void> later = h.turn([&] { return out->write(chunk_of(3, 9)); });
  ASSERT_TRUE(later.is_broken());
  EXPECT_EQ(later.error(), h.log.failure);
  Promise<void> end_again = h.turn([&] { return out->end(); });
  ASSERT_TRUE(end_again.is_broken());
  EXPECT_EQ(end_again.error(), h.log.failure);
  h.turn([&] { out.reset(); });
}

TEST(ByteStream, EndWaitsForEveryAcknowledgementBeforeTellingTheSink) {
  Harness h(true);
  std::shared_ptr<ByteStream> out;
  Promise<void> ended = h.turn([&] {
    out = std::make_shared<ByteStream>(h.sink);
    out->write(chunk_of(10, 1));
    out->write(chunk_of(10, 2));
    return out->end();
  });
  EXPECT_EQ(h.log.ends, 0);
  h.ack();
  EXPECT_EQ(h.log.ends, 0);
  EXPECT_TRUE(ended.pending());
  h.ack();
  EXPECT_EQ(h.log.ends, 1);
  EXPECT_TRUE(ended.ready());
  Promise<void> late = h.turn([&] { return out->write(chunk_of(1, 3)); });
  ASSERT_TRUE(late.is_broken());
  EXPECT_EQ(late.error().kind, ErrorKind::failed);
  h.turn([&] { out.reset(); });
}

TEST(ByteStream, EndCompletesAfterTheStreamItselfIsDropped) {
  Harness h(true);
  Promise<void> ended = h.turn([&] {
    ByteStream out(h.sink);
    out.write(chunk_of(10, 1));
    return out.end();
  });
  EXPECT_TRUE(ended.pending());
  h.ack();
  EXPECT_TRUE(ended.ready());
  EXPECT_EQ(h.log.ends, 1);
}

TEST(ByteStream, AbortBreaksWaitingWritesAndTellsTheSinkAfterWhatWasSent) {
  Harness h(true);
  std::shared_ptr<ByteStream> out;
  std::vector<Promise<void>> writes;
  Promise<void> aborted = h.turn([&] {
    out = std::make_shared<ByteStream>(h.sink, StreamWindow{.max_chunks = 1, .max_bytes = 1 << 20});
    writes.push_back(out->write(chunk_of(10, 1)));
    writes.push_back(out->write(chunk_of(10, 2)));
    return out->abort("source unreadable");
  });
  EXPECT_TRUE(aborted.ready());
  ASSERT_TRUE(writes[1].is_broken());
  EXPECT_EQ(writes[1].error(), (Error{ErrorKind::failed, "aborted: source unreadable"}));
  EXPECT_EQ(h.log.chunks.size(), 1u);
  EXPECT_EQ(h.log.aborts, std::vector<std::string>{"source unreadable"});
  h.ack();
  EXPECT_EQ(h.log.chunks.size(), 1u);
  EXPECT_EQ(h.log.ends, 0);
  Promise<void> ended = h.turn([&] { return out->end(); });
  ASSERT_TRUE(ended.is_broken());
  h.turn([&] { out.reset(); });
}

TEST(ByteStream, ADroppedStreamSendsNothingMoreAndLetsTheSinkGo) {
  Harness h(true);
  Promise<void> queued = h.turn([&] {
    ByteStream out(h.sink, StreamWindow{.max_chunks = 1, .max_bytes = 1 << 20});
    out.write(chunk_of(10, 1));
    return out.write(chunk_of(10, 2));
  });
  ASSERT_TRUE(queued.is_broken());
  h.turn([&] { h.sink = {}; });
  EXPECT_FALSE(h.log.destroyed);  // the write in flight still holds it
  h.ack();
  EXPECT_TRUE(h.log.destroyed);
  EXPECT_EQ(h.log.chunks.size(), 1u);
  EXPECT_EQ(h.log.ends, 0);
}

TEST(ByteStream, RefusesAnEmptySinkAndAnEmptyWindow) {
  Harness h(true);
  auto refusal = [&](Ref<ByteSink> sink, StreamWindow w) {
    return h.turn([&] {
      try {
        ByteStream s(sink, w);
      } catch (const VatError& e) {
        return e.error();
      }
      return Error{};
    });
  };
  EXPECT_EQ(refusal(Ref<ByteSink>(), {}),
            (Error{ErrorKind::failed, "ByteStream needs a sink, got an empty reference"}));
  EXPECT_EQ(refusal(h.sink, StreamWindow{.max_chunks = 0}),
            (Error{ErrorKind::failed, "ByteStream window of 0 chunks and 1048576 bytes: both must be 1 or more"}));
}

// Between two vats of one process, on their own threads: the same stream.
TEST(ByteStream, StreamsToASinkInAnotherVat) {
  SinkLog log;  // outlives the group, whose vats hold the sink
  VatGroup g(2);
  auto sink = test::in(g[0], [&] { return portable(Ref<ByteSink>(g[0].make<TestSink>(&log, false))); });
  std::vector<std::size_t> sizes(200, 4096);
  g[1].submit([&] { return Promise<void>(produce(ByteStream(sink.take()), sizes)); }).get();
  std::size_t ends = test::in(g[0], [&] { return static_cast<std::size_t>(log.ends); });
  EXPECT_EQ(ends, 1u);
  EXPECT_EQ(log.chunks.size(), sizes.size());
  for (std::size_t i = 0; i < log.chunks.size(); ++i)
    ASSERT_EQ(log.chunks[i], chunk_of(4096, static_cast<std::uint8_t>(i))) << i;
}

}  // namespace
}  // namespace vatic
