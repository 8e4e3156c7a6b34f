#include "captp/stream.h"

#include <memory>
#include <utility>

#include <boost/asio/error.hpp>

namespace vatic::captp {
namespace {

// One read-exactly operation in progress. The stream outlives it by the Stream
// contract (whoever owns the stream keeps it until the handler ran or it closed).
struct ReadExactly : std::enable_shared_from_this<ReadExactly> {
  Stream* stream;
  boost::asio::mutable_buffer buffer;
  std::size_t done = 0;
  IoHandler handler;

  void next() {
    auto self = shared_from_this();
    stream->async_read_some(buffer + done, [self](boost::system::error_code ec, std::size_t n) {
      self->done += n;
      if (!ec && n == 0) ec = boost::asio::error::eof;
      if (ec || self->done == self->buffer.size()) {
        auto h = std::move(self->handler);
        return h(ec, self->done);
      }
      self->next();
    });
  }
};

}  // namespace

void async_read_exactly(Stream& stream, boost::asio::mutable_buffer buffer, IoHandler handler) {
  auto op = std::make_shared<ReadExactly>();
  op->stream = &stream;
  op->buffer = buffer;
  op->handler = std::move(handler);
  if (buffer.size() == 0) {
    // Still complete through the stream, never inline: a zero-size read finishes at once.
    stream.async_read_some(buffer, [op](boost::system::error_code ec, std::size_t) {
      auto h = std::move(op->handler);
      h(ec, 0);
    });
    return;
  }
  op->next();
}

}  // namespace vatic::captp
