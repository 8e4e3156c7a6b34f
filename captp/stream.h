// Stream: one reliable, ordered byte stream carrying one CapTP connection (a TCP
// or unix socket, or one end of an in-memory pipe). The secure channel owns its
// stream and is the only user; the type hides which transport sits below, so the
// channel, its tests and its attack tests run unchanged over each of them.
//
// Threads: a stream belongs to one io_context and is used only on the thread that
// runs it. Completion handlers always run later on that io_context, never inline
// from the call that started the operation. At most one read and one write may be
// outstanding at a time, and the buffers must stay valid until their handler ran
// or the stream was closed.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

namespace vatic::captp {

using IoHandler = std::function<void(boost::system::error_code, std::size_t)>;

class Stream {
 public:
  Stream() = default;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  virtual ~Stream() = default;

  // Reads at least one byte into `buffer` (unless it is empty); EOF arrives as
  // boost::asio::error::eof.
  virtual void async_read_some(boost::asio::mutable_buffer buffer, IoHandler handler) = 0;
  // Writes all of `buffers` (gather write) or fails.
  virtual void async_write(std::vector<boost::asio::const_buffer> buffers, IoHandler handler) = 0;
  // Shuts both directions down and releases the descriptor. Operations still
  // outstanding complete with an error (operation_aborted or similar). The peer
  // sees EOF. Idempotent.
  virtual void close() = 0;
  // For humans and logs: "tcp 127.0.0.1:4242", "unix /run/vat.sock", "memory pipe end 1".
  virtual std::string describe() const = 0;
};

// Fills `buffer` completely with async_read_some calls. The handler receives the
// number of bytes read even on error, so a caller can say how far a peer got
// ("closed after 27 of 48 bytes"). A stream that reports success with zero bytes
// for a non-empty buffer is treated as EOF rather than looped on.
void async_read_exactly(Stream& stream, boost::asio::mutable_buffer buffer, IoHandler handler);

}  // namespace vatic::captp
