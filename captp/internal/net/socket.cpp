#include "captp/internal/net/socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "vat/error.h"

namespace vatic::captp {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr int kUnixSendBuffer = 1 << 20;  // the kernel doubles it for its bookkeeping
using unix_proto = asio::local::stream_protocol;
using boost::system::error_code;

template <class Socket>
class SocketStream final : public Stream {
 public:
  SocketStream(Socket socket, std::string description)
      : socket_(std::move(socket)), description_(std::move(description)) {}
  ~SocketStream() override { close(); }

  void async_read_some(asio::mutable_buffer buffer, IoHandler handler) override {
    socket_.async_read_some(buffer, std::move(handler));
  }
  void async_write(std::vector<asio::const_buffer> buffers, IoHandler handler) override {
    asio::async_write(socket_, std::move(buffers), std::move(handler));
  }
  void close() override {
    error_code ignored;
    if (!socket_.is_open()) return;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
  }
  std::string describe() const override { return description_; }

 private:
  Socket socket_;
  std::string description_;
};

std::string endpoint_text(const tcp::endpoint& ep) {
  return Address::tcp(ep.address().to_string(), ep.port()).to_string();
}

error_code last_error() { return error_code(errno, boost::system::system_category()); }

// Opens `a` as a close-on-exec socket: Asio's open() would use socket(2)
// without SOCK_CLOEXEC.
template <class Acceptor, class Protocol>
error_code open_cloexec(Acceptor& a, const Protocol& p) {
  int fd = ::socket(p.family(), p.type() | SOCK_CLOEXEC, p.protocol());
  if (fd < 0) return last_error();
  error_code ec;
  if (a.assign(p, fd, ec)) ::close(fd);
  return ec;
}

// Waits until the listener is readable, then accepts with accept4: the new
// socket is close-on-exec from its first instant (Asio's accept uses accept(2)),
// and every error reaches the handler, EMFILE first. `alive` expires with the
// acceptor, which a completion may outlive.
template <class Protocol>
void accept_cloexec(typename Protocol::acceptor& a, Protocol protocol, std::weak_ptr<void> alive, StreamHandler handler,
                    std::unique_ptr<Stream> (*make)(typename Protocol::socket)) {
  a.async_wait(asio::socket_base::wait_read,
               [&a, protocol, alive, make, h = std::move(handler)](error_code ec) mutable {
                 if (ec) return h(ec, nullptr);
                 if (alive.expired()) return h(asio::error::operation_aborted, nullptr);
                 int fd = ::accept4(a.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                 if (fd < 0) {
                   int e = errno;
                   // Nothing to take after all (the client gave up, or a signal came): wait again.
                   if (e == EAGAIN || e == EWOULDBLOCK || e == ECONNABORTED || e == EINTR || e == EPROTO)
                     return accept_cloexec(a, protocol, alive, std::move(h), make);
                   return h(error_code(e, boost::system::system_category()), nullptr);
                 }
                 typename Protocol::socket s(a.get_executor());
                 if (s.assign(protocol, fd, ec)) {
                   ::close(fd);
                   return h(ec, nullptr);
                 }
                 h({}, make(std::move(s)));
               });
}

template <class Acceptor>
bool shed_from(Acceptor& a) {
  int fd = ::accept4(a.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Asio's dialing sockets are opened without SOCK_CLOEXEC; set it once connected.
void set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0 && !(flags & FD_CLOEXEC)) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

[[noreturn]] void listen_failed(const Address& a, const char* step, const std::string& why) {
  throw VatError(ErrorKind::failed, "listen on " + a.to_string() + ": " + step + ": " + why);
}

class TcpAcceptor final : public Acceptor {
 public:
  TcpAcceptor(tcp::acceptor a, tcp protocol) : acceptor_(std::move(a)), protocol_(protocol) {}
  ~TcpAcceptor() override { close(); }

  void async_accept(StreamHandler handler) override {
    accept_cloexec<tcp>(acceptor_, protocol_, alive_, std::move(handler), &make_tcp_stream);
  }
  bool shed_one() override { return shed_from(acceptor_); }
  Address local_address() const override {
    error_code ec;
    auto ep = acceptor_.local_endpoint(ec);
    return Address::tcp(ep.address().to_string(), ep.port());
  }
  void close() override {
    error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  tcp::acceptor acceptor_;
  tcp protocol_;
  std::shared_ptr<void> alive_ = std::make_shared<int>(0);
};

class UnixAcceptor final : public Acceptor {
 public:
  UnixAcceptor(unix_proto::acceptor a, std::string path, struct stat made)
      : acceptor_(std::move(a)), path_(std::move(path)), made_(made) {}
  ~UnixAcceptor() override { close(); }

  void async_accept(StreamHandler handler) override {
    accept_cloexec<unix_proto>(acceptor_, unix_proto(), alive_, std::move(handler), &make_unix_stream);
  }
  bool shed_one() override { return shed_from(acceptor_); }
  Address local_address() const override { return Address::unix_socket(path_); }
  void close() override {
    if (!acceptor_.is_open()) return;
    error_code ignored;
    acceptor_.close(ignored);
    // Remove the socket file, but only if it is still the one we bound: another
    // vat may have replaced it since.
    struct stat now {};
    if (::lstat(path_.c_str(), &now) == 0 && now.st_dev == made_.st_dev && now.st_ino == made_.st_ino)
      ::unlink(path_.c_str());
  }

 private:
  unix_proto::acceptor acceptor_;
  std::string path_;
  struct stat made_;
  std::shared_ptr<void> alive_ = std::make_shared<int>(0);
};

std::unique_ptr<Acceptor> listen_tcp(asio::io_context& io, const Address& a) {
  error_code ec;
  tcp::endpoint ep;
  auto ip = asio::ip::make_address(a.host, ec);
  if (!ec) {
    ep = tcp::endpoint(ip, a.port);
  } else {
    tcp::resolver resolver(io);
    auto results =
        resolver.resolve(a.host, std::to_string(a.port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) listen_failed(a, "resolve", ec ? ec.message() : "no addresses");
    ep = results.begin()->endpoint();
  }
  tcp::acceptor acceptor(io);
  if ((ec = open_cloexec(acceptor, ep.protocol()))) listen_failed(a, "socket", ec.message());
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec)) listen_failed(a, "SO_REUSEADDR", ec.message());
  if (acceptor.bind(ep, ec)) listen_failed(a, "bind", ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) listen_failed(a, "listen", ec.message());
  // accept4 runs when the listener is readable, and must not block if the
  // client has already gone (nor when shedding with nothing queued).
  if (acceptor.native_non_blocking(true, ec)) listen_failed(a, "O_NONBLOCK", ec.message());
  return std::make_unique<TcpAcceptor>(std::move(acceptor), ep.protocol());
}

// A socket file left behind by a crashed vat refuses connections; a live one
// accepts them (or is busy). Only the former may be removed.
void remove_stale_socket(asio::io_context& io, const Address& a) {
  struct stat st {};
  if (::lstat(a.path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    listen_failed(a, "stat", std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) listen_failed(a, "bind", "the path exists and is not a socket");
  unix_proto::socket probe(io);
  error_code ec;
  probe.open(unix_proto(), ec);
  if (!ec) probe.non_blocking(true, ec);
  if (ec) listen_failed(a, "probe socket", ec.message());
  probe.connect(unix_proto::endpoint(a.path), ec);
  if (ec == asio::error::connection_refused) {
    if (::unlink(a.path.c_str()) != 0 && errno != ENOENT) listen_failed(a, "remove stale socket", std::strerror(errno));
    return;
  }
  if (!ec || ec == asio::error::would_block || ec == asio::error::try_again)
    listen_failed(a, "bind", "another process is listening on this socket");
  listen_failed(a, "probe existing socket", ec.message());
}

std::unique_ptr<Acceptor> listen_unix(asio::io_context& io, const Address& a) {
  remove_stale_socket(io, a);
  error_code ec;
  unix_proto::acceptor acceptor(io);
  if ((ec = open_cloexec(acceptor, unix_proto()))) listen_failed(a, "socket", ec.message());
  if (acceptor.bind(unix_proto::endpoint(a.path), ec)) listen_failed(a, "bind", ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) listen_failed(a, "listen", ec.message());
  if (acceptor.native_non_blocking(true, ec)) listen_failed(a, "O_NONBLOCK", ec.message());
  struct stat made {};
  if (::lstat(a.path.c_str(), &made) != 0) listen_failed(a, "stat", std::strerror(errno));
  return std::make_unique<UnixAcceptor>(std::move(acceptor), a.path, made);
}

// One connection attempt: the handler runs once, whichever of completion and
// the deadline comes first.
template <class Socket>
struct ConnectOp {
  ConnectOp(asio::io_context& io, StreamHandler h) : socket(io), timer(io), handler(std::move(h)) {}

  Socket socket;
  std::optional<tcp::resolver> resolver;
  asio::steady_timer timer;
  StreamHandler handler;
  bool timed_out = false;

  void arm(std::shared_ptr<ConnectOp> self, Duration timeout) {
    if (timeout <= Duration::zero()) return;
    timer.expires_after(timeout);
    timer.async_wait([self](error_code ec) {
      if (ec || !self->handler) return;
      self->timed_out = true;
      if (self->resolver) self->resolver->cancel();
      error_code ignored;
      self->socket.close(ignored);
    });
  }
  void finish(error_code ec, std::unique_ptr<Stream> s) {
    if (!handler) return;
    timer.cancel();
    if (timed_out) ec = asio::error::timed_out, s = nullptr;
    auto h = std::move(handler);
    handler = nullptr;
    h(ec, std::move(s));
  }
};

void connect_tcp(asio::io_context& io, const Address& a, StreamHandler handler, Duration timeout) {
  auto op = std::make_shared<ConnectOp<tcp::socket>>(io, std::move(handler));
  op->resolver.emplace(io);
  op->arm(op, timeout);
  op->resolver->async_resolve(a.host, std::to_string(a.port), tcp::resolver::numeric_service,
                              [op](error_code ec, const tcp::resolver::results_type& results) {
                                if (ec || op->timed_out) return op->finish(ec ? ec : asio::error::timed_out, nullptr);
                                asio::async_connect(op->socket, results, [op](error_code ec, const tcp::endpoint&) {
                                  if (ec) return op->finish(ec, nullptr);
                                  op->finish(ec, make_tcp_stream(std::move(op->socket)));
                                });
                              });
}

void connect_unix(asio::io_context& io, const Address& a, StreamHandler handler, Duration timeout) {
  auto op = std::make_shared<ConnectOp<unix_proto::socket>>(io, std::move(handler));
  op->arm(op, timeout);
  op->socket.async_connect(unix_proto::endpoint(a.path), [op](error_code ec) {
    if (ec) return op->finish(ec, nullptr);
    op->finish(ec, make_unix_stream(std::move(op->socket)));
  });
}

}  // namespace

std::unique_ptr<Stream> make_tcp_stream(tcp::socket socket) {
  error_code ec;
  if (socket.is_open()) set_cloexec(socket.native_handle());
  socket.set_option(tcp::no_delay(true), ec);  // best effort: a failure only costs latency
  auto peer = socket.remote_endpoint(ec);
  std::string text = ec ? "tcp (unconnected)" : "tcp " + endpoint_text(peer);
  return std::make_unique<SocketStream<tcp::socket>>(std::move(socket), std::move(text));
}

std::unique_ptr<Stream> make_unix_stream(unix_proto::socket socket) {
  // The dialing side knows the peer's path; the accepting side only its own.
  error_code ec;
  if (socket.is_open()) set_cloexec(socket.native_handle());
  auto path = socket.remote_endpoint(ec).path();
  if (ec || path.empty()) path = socket.local_endpoint(ec).path();
  std::string text = "unix " + (path.empty() ? std::string("(unnamed)") : path);
  // A unix stream socket queues at most its send buffer (208 KiB by default)
  // between the two processes, less than one large frame: the sender then
  // waits for the reader's wake-up several times per frame. A larger buffer
  // (capped by net.core.wmem_max; best effort) lets a frame leave in one go.
  socket.set_option(asio::socket_base::send_buffer_size(kUnixSendBuffer), ec);
  return std::make_unique<SocketStream<unix_proto::socket>>(std::move(socket), std::move(text));
}

std::string remote_host_key(const std::string& description) {
  if (!description.starts_with("tcp ")) return "unix";
  auto colon = description.rfind(':');
  return colon == std::string::npos ? description : description.substr(0, colon);
}

std::unique_ptr<Acceptor> listen(asio::io_context& io, const Address& address) {
  return address.kind == Address::Kind::tcp ? listen_tcp(io, address) : listen_unix(io, address);
}

void async_connect(asio::io_context& io, const Address& address, StreamHandler handler, Duration timeout) {
  if (address.kind == Address::Kind::tcp) return connect_tcp(io, address, std::move(handler), timeout);
  connect_unix(io, address, std::move(handler), timeout);
}

}  // namespace vatic::captp
