// The send buffers of a SecureChannel under bulk traffic (channel_send.cpp):
// kept while messages keep coming, given back once the traffic drains. Two
// channels keyed directly over a memory pipe, with a stream in between that
// can hold write completions back, so the test decides when a write ends.
#include "captp/internal/net/channel.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "captp/identity.h"
#include "captp/memory_pipe.h"

namespace vatic::captp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

Secret<32> key(std::uint8_t tag) {
  std::array<std::uint8_t, 32> b{};
  b.fill(tag);
  return Secret<32>::from(b);
}

// Holds each write's completion until the test releases it.
class HoldingStream final : public Stream {
 public:
  HoldingStream(std::unique_ptr<Stream> inner, std::vector<std::function<void()>>& held)
      : inner_(std::move(inner)), held_(held) {}
  void async_read_some(asio::mutable_buffer b, IoHandler h) override { inner_->async_read_some(b, std::move(h)); }
  void async_write(std::vector<asio::const_buffer> b, IoHandler h) override {
    inner_->async_write(std::move(b), [&held = held_, h = std::move(h)](error_code ec, std::size_t n) {
      held.push_back([h, ec, n] { h(ec, n); });
    });
  }
  void close() override { inner_->close(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::unique_ptr<Stream> inner_;
  std::vector<std::function<void()>>& held_;
};

template <class Pred>
bool run_until(asio::io_context& io, Pred done) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(20ms);
  }
  return true;
}

void append(SecureChannel& ch, std::size_t size, char fill) {
  auto& buf = ch.begin_append();
  buf.insert(buf.end(), size, static_cast<std::uint8_t>(fill));
  ch.end_message();
}

TEST(ChannelSend, BulkBuffersAreKeptWhileTrafficFlowsAndGivenBackWhenItDrains) {
  asio::io_context io;
  std::vector<std::function<void()>> held;
  auto [ra, rb] = memory_pipe(io, io);
  auto a = std::make_shared<SecureChannel>(
      io, std::make_unique<HoldingStream>(std::move(ra), held),
      SecureChannel::Keys{FrameSealer(CipherState(key(1))), FrameOpener(CipherState(key(2))), Identity::generate().id(),
                          true},
      ChannelOptions{});
  auto b = std::make_shared<SecureChannel>(
      io, std::move(rb),
      SecureChannel::Keys{FrameSealer(CipherState(key(2))), FrameOpener(CipherState(key(1))), Identity::generate().id(),
                          false},
      ChannelOptions{});
  std::size_t received = 0;
  a->start([](std::span<const std::uint8_t>) {}, [](const Error&) {});
  b->start([&](std::span<const std::uint8_t> p) { received += p.size(); }, [](const Error&) {});

  // A burst of five 1 MiB messages: one buffer of more than 4 MiB.
  constexpr std::size_t kMiB = 1 << 20;
  for (int i = 0; i < 5; ++i) append(*a, kMiB, 'a');
  a->request_flush();
  ASSERT_TRUE(run_until(io, [&] { return !held.empty(); }));
  // While it is written, one more message arrives (into the other buffer).
  append(*a, kMiB, 'b');
  a->request_flush();
  std::size_t largest_during_last_write = 0;
  while (received < 6 * kMiB) {
    ASSERT_TRUE(run_until(io, [&] { return !held.empty() || received == 6 * kMiB; }));
    if (held.empty()) break;
    // The first buffer's writes are done once the sixth message is on its way.
    if (a->unsent_bytes() <= kMiB + 64) largest_during_last_write = a->send_capacity();
    auto h = std::move(held);
    held.clear();
    for (auto& f : h) f();
  }
  while (!held.empty()) {
    auto h = std::move(held);
    held.clear();
    for (auto& f : h) f();
    io.poll();
  }
  EXPECT_EQ(received, 6 * kMiB);
  EXPECT_GT(largest_during_last_write, 5 * kMiB) << "the burst's buffer was given back while traffic still flowed";
  EXPECT_LT(a->send_capacity(), 4 * kMiB) << "the burst's buffer is pinned after the traffic drained";
  a->abort(Error{ErrorKind::disconnected, "test over"});
  b->abort(Error{ErrorKind::disconnected, "test over"});
}

}  // namespace
}  // namespace vatic::captp
