// Sockets: Streams over TCP and unix stream sockets, the Acceptor a listening vat
// accepts them from, and async_connect for the dialing side.
//
// Every TCP stream has TCP_NODELAY on: the secure channel already coalesces
// what one loop iteration produces into one write, so Nagle would only add a
// round trip of delay to small requests.
//
// Every descriptor made here is close-on-exec: listeners and accepted sockets
// from their first instant (SOCK_CLOEXEC, accept4), dialed sockets as soon as
// they are connected. A program that starts children must not hand them a
// vat's connections or its listening socket.
//
// Threads: an Acceptor and the streams it yields belong to the io_context they
// were made on and are used on its thread only.
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "captp/address.h"
#include "captp/stream.h"
#include "vat/clock.h"

namespace vatic::captp {

using StreamHandler = std::function<void(boost::system::error_code, std::unique_ptr<Stream>)>;

// Wraps connected sockets (the TCP one gets TCP_NODELAY). Also the way to put a
// Stream over a socketpair in tests.
std::unique_ptr<Stream> make_tcp_stream(boost::asio::ip::tcp::socket socket);
std::unique_ptr<Stream> make_unix_stream(boost::asio::local::stream_protocol::socket socket);

class Acceptor {
 public:
  Acceptor() = default;
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;
  // Closes; a unix acceptor also removes the socket file it created.
  virtual ~Acceptor() = default;

  // Accepts one connection. Call again from the handler to keep accepting.
  // After close() the handler gets operation_aborted.
  virtual void async_accept(StreamHandler handler) = 0;
  // Where it listens; for TCP with port 0 asked, the port the kernel chose.
  virtual Address local_address() const = 0;
  virtual void close() = 0;
  // Accepts one queued connection, if any, and closes it at once (the client
  // sees its connection closed). What an AcceptLoop does at the descriptor
  // limit with its one spare descriptor. Never blocks; false if nothing was
  // queued or accepting failed.
  virtual bool shed_one() = 0;
};

// The key connections from one remote address share, from a Stream's
// describe(): the host of a TCP peer ("tcp 10.0.0.7:4242" -> "tcp 10.0.0.7");
// every unix socket peer is "unix" (they have no address of their own).
std::string remote_host_key(const std::string& description);

// Binds and listens. Throws VatError{failed} saying what and why on failure
// ("listen on 127.0.0.1:4242: bind: Address already in use"). TCP sets
// SO_REUSEADDR so a restarted vat gets its port back at once. For a unix
// socket, an existing file at the path is removed only if it is a socket that
// nobody accepts on (a stale one left by a crash); anything else is an error.
std::unique_ptr<Acceptor> listen(boost::asio::io_context& io, const Address& address);

// Resolves (host names too) and connects. The handler runs exactly once on io's
// thread. A positive `timeout` bounds resolution plus connection and reports
// boost::asio::error::timed_out when exceeded; zero means no bound beyond the
// kernel's own.
void async_connect(boost::asio::io_context& io, const Address& address, StreamHandler handler,
                   Duration timeout = Duration::zero());

}  // namespace vatic::captp
