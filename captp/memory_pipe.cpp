#include "captp/memory_pipe.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

namespace vatic::captp {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Bytes written by one end and read by the other.
struct Lane {
  std::vector<std::uint8_t> bytes;
  std::size_t head = 0;        // bytes[head..] are unread
  bool writer_closed = false;  // the reader sees EOF once bytes run out
  bool reader_closed = false;  // the writer gets broken_pipe
  // The reading end's outstanding read, if it found nothing to read. Like a
  // socket's pending read, it keeps the reader's io_context from running out of
  // work.
  asio::mutable_buffer read_buffer;
  IoHandler read_handler;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> read_work;

  std::size_t unread() const { return bytes.size() - head; }
  // Completes the outstanding read on the reader's io_context.
  void finish_read(error_code ec, std::size_t n);
  std::size_t take(asio::mutable_buffer into) {
    std::size_t n = std::min(into.size(), unread());
    std::memcpy(into.data(), bytes.data() + head, n);
    head += n;
    if (head == bytes.size()) {
      bytes.clear();  // keeps capacity: no allocation per message in steady state
      head = 0;
    }
    return n;
  }
};

struct Shared {
  std::mutex mu;
  Lane lanes[2];  // lanes[i]: written by end i, read by end 1 - i
  asio::io_context* io[2];
  bool closed[2] = {false, false};
};

// Completes through the owner's io_context, never inline (the Stream contract).
void complete(asio::io_context& io, IoHandler h, error_code ec, std::size_t n) {
  asio::post(io, [h = std::move(h), ec, n] { h(ec, n); });
}

void Lane::finish_read(error_code ec, std::size_t n) {
  // Post before dropping the work guard, so that the io_context never sees zero work in between.
  complete(read_work->get_executor().context(), std::move(read_handler), ec, n);
  read_handler = nullptr;
  read_work.reset();
}

class PipeEnd final : public Stream {
 public:
  PipeEnd(std::shared_ptr<Shared> s, int me) : s_(std::move(s)), me_(me) {}
  ~PipeEnd() override { close(); }

  void async_read_some(asio::mutable_buffer buffer, IoHandler handler) override {
    std::lock_guard lock(s_->mu);
    Lane& in = s_->lanes[1 - me_];
    auto& io = *s_->io[me_];
    if (s_->closed[me_]) return complete(io, std::move(handler), asio::error::bad_descriptor, 0);
    if (in.read_handler) return complete(io, std::move(handler), asio::error::already_started, 0);
    if (in.unread() > 0) {
      std::size_t n = in.take(buffer);
      return complete(io, std::move(handler), {}, n);
    }
    if (in.writer_closed) return complete(io, std::move(handler), asio::error::eof, 0);
    if (buffer.size() == 0) return complete(io, std::move(handler), {}, 0);
    in.read_buffer = buffer;
    in.read_handler = std::move(handler);
    in.read_work.emplace(io.get_executor());
  }

  void async_write(std::vector<asio::const_buffer> buffers, IoHandler handler) override {
    std::lock_guard lock(s_->mu);
    Lane& out = s_->lanes[me_];
    auto& io = *s_->io[me_];
    if (s_->closed[me_]) return complete(io, std::move(handler), asio::error::bad_descriptor, 0);
    if (out.reader_closed) return complete(io, std::move(handler), asio::error::broken_pipe, 0);
    std::size_t total = 0;
    for (const auto& b : buffers) {
      auto* p = static_cast<const std::uint8_t*>(b.data());
      out.bytes.insert(out.bytes.end(), p, p + b.size());
      total += b.size();
    }
    if (out.read_handler && out.unread() > 0) {
      // The peer is waiting: fill its buffer now, under the lock, and wake it on
      // its own io_context.
      out.finish_read({}, out.take(out.read_buffer));
    }
    complete(io, std::move(handler), {}, total);
  }

  void close() override {
    std::lock_guard lock(s_->mu);
    if (s_->closed[me_]) return;
    s_->closed[me_] = true;
    Lane& out = s_->lanes[me_];
    out.writer_closed = true;
    // A pending read means nothing is left unread: EOF now.
    if (out.read_handler) out.finish_read(asio::error::eof, 0);
    Lane& in = s_->lanes[1 - me_];
    in.reader_closed = true;
    in.bytes.clear();
    in.bytes.shrink_to_fit();
    in.head = 0;
    if (in.read_handler) in.finish_read(asio::error::operation_aborted, 0);
  }

  std::string describe() const override { return "memory pipe end " + std::to_string(me_ + 1); }

 private:
  std::shared_ptr<Shared> s_;
  int me_;
};

}  // namespace

std::pair<std::unique_ptr<Stream>, std::unique_ptr<Stream>> memory_pipe(asio::io_context& a, asio::io_context& b) {
  auto s = std::make_shared<Shared>();
  s->io[0] = &a;
  s->io[1] = &b;
  return {std::make_unique<PipeEnd>(s, 0), std::make_unique<PipeEnd>(s, 1)};
}

}  // namespace vatic::captp
