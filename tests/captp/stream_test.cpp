#include "captp/stream.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "captp/address.h"
#include "captp/internal/net/socket.h"
#include "captp/memory_pipe.h"
#include "vat/error.h"

namespace vatic::captp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

// Runs `io` until `done()` or the deadline; false on timeout or when nothing is
// left that could make `done()` true.
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

std::vector<asio::const_buffer> one(const std::string& s) { return {asio::buffer(s)}; }

std::string temp_socket_path(const char* tag) {
  return "/tmp/vatic-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".sock";
}

// --- Address

TEST(Address, ParsesEveryForm) {
  auto a = Address::parse("127.0.0.1:4242");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, Address::tcp("127.0.0.1", 4242));
  EXPECT_EQ(Address::parse("tcp:example.org:80"), Address::tcp("example.org", 80));
  EXPECT_EQ(Address::parse("[::1]:4242"), Address::tcp("::1", 4242));
  EXPECT_EQ(Address::parse("tcp:[fe80::1]:1"), Address::tcp("fe80::1", 1));
  EXPECT_EQ(Address::parse("localhost:0"), Address::tcp("localhost", 0));
  EXPECT_EQ(Address::parse("unix:/run/vat.sock"), Address::unix_socket("/run/vat.sock"));
}

TEST(Address, ToStringReadsBack) {
  for (const char* text : {"127.0.0.1:4242", "[::1]:65535", "unix:/tmp/a b.sock", "my-host_1.example:7"}) {
    auto a = Address::parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(a->to_string(), text);
    EXPECT_EQ(Address::parse(a->to_string()), a);
  }
}

TEST(Address, RefusesMalformedTextWithAReason) {
  struct Case {
    std::string text;
    std::string reason_part;
  };
  std::vector<Case> cases = {
      {"", "empty"},
      {"host", "missing ':port'"},
      {"host:", "not a port"},
      {"host:65536", "not a port"},
      {"host:12a", "not a port"},
      {"host:-1", "not a port"},
      {":80", "missing host"},
      {"::1:80", "needs brackets"},
      {"[::1:80", "no ']'"},
      {"[zz]:80", "not an IPv6"},
      {"[::1]80", "missing ':port'"},
      {"bad host!:80", "not a valid host"},
      {"-lead:80", "not a valid host"},
      {"tcp:", "missing ':port'"},
      {"unix:", "empty path"},
      {"unix:/" + std::string(200, 'x'), "longer than"},
      {std::string("unix:/a\0b", 9), "NUL"},
      {std::string(2000, 'a') + ":1", "longer than 1024"},
  };
  for (const auto& c : cases) {
    auto a = Address::parse(c.text);
    EXPECT_FALSE(a) << c.text;
    EXPECT_NE(a.error().find(c.reason_part), std::string::npos) << c.text << " -> " << a.error();
  }
}

// --- Sockets

// Accepts one stream, echoes everything it reads until EOF.
struct Echo {
  std::unique_ptr<Stream> stream;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(4096);
  bool eof = false;

  void pump() {
    stream->async_read_some(asio::buffer(buf), [this](error_code ec, std::size_t n) {
      if (ec) {
        eof = true;
        stream->close();
        return;
      }
      stream->async_write({asio::buffer(buf.data(), n)}, [this](error_code ec, std::size_t) {
        if (!ec) pump();
      });
    });
  }
};

void expect_echo_round_trip(asio::io_context& io, Acceptor& acceptor, const Address& dial, const char* prefix) {
  Echo server;
  acceptor.async_accept([&](error_code ec, std::unique_ptr<Stream> s) {
    ASSERT_FALSE(ec) << ec.message();
    server.stream = std::move(s);
    server.pump();
  });
  std::unique_ptr<Stream> client;
  error_code connect_ec = asio::error::would_block;
  async_connect(io, dial, [&](error_code ec, std::unique_ptr<Stream> s) {
    connect_ec = ec;
    client = std::move(s);
  });
  ASSERT_TRUE(run_until(io, [&] { return connect_ec != asio::error::would_block; }));
  ASSERT_FALSE(connect_ec) << connect_ec.message();
  EXPECT_EQ(client->describe().rfind(prefix, 0), 0u) << client->describe();

  const std::string hello = "hello through the socket";
  bool written = false;
  client->async_write(one(hello), [&](error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    EXPECT_EQ(n, hello.size());
    written = true;
  });
  std::string got(hello.size(), '\0');
  bool read = false;
  async_read_exactly(*client, asio::buffer(got), [&](error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    EXPECT_EQ(n, hello.size());
    read = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return written && read; }));
  EXPECT_EQ(got, hello);

  client->close();
  ASSERT_TRUE(run_until(io, [&] { return server.eof; }));
}

TEST(Socket, TcpListenConnectEcho) {
  asio::io_context io;
  auto acceptor = listen(io, Address::tcp("127.0.0.1", 0));
  Address bound = acceptor->local_address();
  EXPECT_EQ(bound.host, "127.0.0.1");
  EXPECT_NE(bound.port, 0);
  expect_echo_round_trip(io, *acceptor, bound, "tcp 127.0.0.1:");
}

TEST(Socket, TcpConnectResolvesHostNames) {
  asio::io_context io;
  auto acceptor = listen(io, Address::tcp("127.0.0.1", 0));
  expect_echo_round_trip(io, *acceptor, Address::tcp("localhost", acceptor->local_address().port), "tcp ");
}

TEST(Socket, UnixListenConnectEchoAndCleanUp) {
  asio::io_context io;
  auto path = temp_socket_path("echo");
  {
    auto acceptor = listen(io, Address::unix_socket(path));
    EXPECT_EQ(acceptor->local_address(), Address::unix_socket(path));
    expect_echo_round_trip(io, *acceptor, Address::unix_socket(path), "unix ");
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the acceptor removes its socket file";
}

TEST(Socket, TcpBindFailureThrowsAClearError) {
  asio::io_context io;
  auto first = listen(io, Address::tcp("127.0.0.1", 0));
  try {
    listen(io, first->local_address());
    FAIL() << "a second listener on the same port";
  } catch (const VatError& e) {
    EXPECT_EQ(e.error().kind, ErrorKind::failed);
    EXPECT_NE(e.error().reason.find("bind"), std::string::npos) << e.what();
    EXPECT_NE(e.error().reason.find(first->local_address().to_string()), std::string::npos) << e.what();
  }
}

TEST(Socket, UnixListenReplacesOnlyAStaleSocket) {
  asio::io_context io;
  auto path = temp_socket_path("stale");
  {
    // A crashed vat's leftover: bound, never unlinked.
    asio::local::stream_protocol::acceptor crashed(io, asio::local::stream_protocol::endpoint(path));
  }
  ASSERT_EQ(::access(path.c_str(), F_OK), 0);
  auto live = listen(io, Address::unix_socket(path));  // replaces the stale file

  try {
    listen(io, Address::unix_socket(path));
    FAIL() << "took over a live listener's socket";
  } catch (const VatError& e) {
    EXPECT_NE(e.error().reason.find("another process is listening"), std::string::npos) << e.what();
  }
  live.reset();

  auto file = temp_socket_path("plainfile");
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_TRUE(f);
  std::fclose(f);
  try {
    listen(io, Address::unix_socket(file));
    FAIL() << "removed a regular file";
  } catch (const VatError& e) {
    EXPECT_NE(e.error().reason.find("not a socket"), std::string::npos) << e.what();
  }
  EXPECT_EQ(::access(file.c_str(), F_OK), 0);
  ::unlink(file.c_str());
}

TEST(Socket, ConnectToAClosedPortFails) {
  asio::io_context io;
  std::uint16_t port;
  {
    auto a = listen(io, Address::tcp("127.0.0.1", 0));
    port = a->local_address().port;
  }
  bool done = false;
  async_connect(io, Address::tcp("127.0.0.1", port), [&](error_code ec, std::unique_ptr<Stream> s) {
    EXPECT_EQ(ec, asio::error::connection_refused);
    EXPECT_FALSE(s);
    done = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return done; }));
}

// --- Memory pipe

TEST(MemoryPipe, CarriesBytesBothWaysAndNeverCompletesInline) {
  asio::io_context io;
  auto [a, b] = memory_pipe(io, io);
  bool returned = false;
  bool written = false;
  a->async_write(one("ping"), [&](error_code ec, std::size_t n) {
    EXPECT_TRUE(returned) << "completed inline";
    EXPECT_FALSE(ec);
    EXPECT_EQ(n, 4u);
    written = true;
  });
  returned = true;
  std::string got(4, '\0');
  bool read = false;
  async_read_exactly(*b, asio::buffer(got), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec);
    read = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return written && read; }));
  EXPECT_EQ(got, "ping");

  // A read posted before the write completes when the bytes arrive.
  std::string back(4, '\0');
  read = false;
  async_read_exactly(*a, asio::buffer(back), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec);
    read = true;
  });
  io.poll();
  EXPECT_FALSE(read);
  b->async_write(one("pong"), [](error_code, std::size_t) {});
  ASSERT_TRUE(run_until(io, [&] { return read; }));
  EXPECT_EQ(back, "pong");
  EXPECT_EQ(a->describe(), "memory pipe end 1");
}

TEST(MemoryPipe, CloseGivesThePeerEofAfterTheDataAndBrokenPipe) {
  asio::io_context io;
  auto [a, b] = memory_pipe(io, io);
  std::uint8_t buf[16];
  error_code pending_ec;
  std::size_t pending_n = 99;
  bool pending_done = false;
  b->async_read_some(asio::buffer(buf),
                     [&](error_code ec, std::size_t n) { pending_ec = ec, pending_n = n, pending_done = true; });
  io.poll();
  a->async_write(one("last words"), [](error_code, std::size_t) {});
  a->close();
  ASSERT_TRUE(run_until(io, [&] { return pending_done; }));
  EXPECT_FALSE(pending_ec);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), pending_n), "last words");

  error_code ec2;
  bool done2 = false;
  b->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) { ec2 = ec, done2 = true; });
  ASSERT_TRUE(run_until(io, [&] { return done2; }));
  EXPECT_EQ(ec2, asio::error::eof);

  error_code wec;
  bool wdone = false;
  b->async_write(one("anyone?"), [&](error_code ec, std::size_t) { wec = ec, wdone = true; });
  ASSERT_TRUE(run_until(io, [&] { return wdone; }));
  EXPECT_EQ(wec, asio::error::broken_pipe);
}

TEST(MemoryPipe, PendingReadIsAbortedWhenItsOwnEndCloses) {
  asio::io_context io;
  auto [a, b] = memory_pipe(io, io);
  std::uint8_t buf[4];
  error_code got;
  bool done = false;
  a->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) { got = ec, done = true; });
  a->close();
  ASSERT_TRUE(run_until(io, [&] { return done; }));
  EXPECT_EQ(got, asio::error::operation_aborted);
  a.reset();  // destroying an end closes it too; the other end just sees EOF
  bool eof = false;
  b->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) { eof = ec == asio::error::eof; });
  ASSERT_TRUE(run_until(io, [&] { return eof; }));
}

// Each end on its own io_context and thread: end 1 streams 4 MiB in uneven
// chunks, end 2 echoes everything, end 1 checks what comes back.
TEST(MemoryPipe, WorksAcrossTwoThreads) {
  asio::io_context io_a, io_b;
  auto [a, b] = memory_pipe(io_a, io_b);
  constexpr std::size_t kTotal = 4 << 20;
  std::vector<std::uint8_t> data(kTotal);
  for (std::size_t i = 0; i < kTotal; ++i) data[i] = static_cast<std::uint8_t>(i * 131 + (i >> 9));

  Echo echo{std::move(b)};
  std::thread tb([&] {
    asio::post(io_b, [&] { echo.pump(); });
    io_b.run();  // ends when the echo stops at EOF
  });

  std::vector<std::uint8_t> back(kTotal);
  std::promise<error_code> finished;
  std::thread ta([&, a = a.get()] {
    std::size_t sent = 0;
    std::function<void()> send_more = [&] {
      if (sent == kTotal) return;
      std::size_t n = std::min<std::size_t>(kTotal - sent, 1000 + sent % 7919);
      a->async_write({asio::buffer(data.data() + sent, n)}, [&, n](error_code ec, std::size_t) {
        if (ec) return finished.set_value(ec);
        sent += n;
        send_more();
      });
    };
    asio::post(io_a, send_more);
    async_read_exactly(*a, asio::buffer(back), [&](error_code ec, std::size_t) {
      a->close();
      finished.set_value(ec);
    });
    io_a.run();
  });
  auto fut = finished.get_future();
  ASSERT_EQ(fut.wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(fut.get());
  ta.join();
  tb.join();
  EXPECT_TRUE(echo.eof);
  EXPECT_TRUE(back == data);
}

}  // namespace
}  // namespace vatic::captp
