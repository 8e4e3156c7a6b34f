// AcceptLoop: keeps one Acceptor accepting for a Node, and keeps it from
// spinning when the kernel refuses. A listening socket with connections queued
// stays readable, so re-arming at once after a failed accept (most often
// EMFILE or ENFILE: the open-file limit) burns a core without freeing a
// descriptor, and the honest clients in the queue wait for nothing. Instead,
// after a failure the loop waits a growing delay (kFirstBackoff, doubling, at
// most kMaxBackoff; reset by the next success) and counts it in its Stats.
//
// At the descriptor limit it also spends the Node's spare descriptor
// (ReserveDescriptor, /dev/null opened at start): it closes the spare,
// accepts one queued connection and closes it at once, then takes the spare
// back. The kernel hands out the oldest queued connection; its client sees the
// connection closed at once instead of waiting out a deadline in the queue,
// and the queue does not grow without end while we cannot accept.
//
// Ownership and threads: owned through shared_ptr by the Node's state; its
// pending accept and its timer hold it too. Everything runs on the
// io_context's thread. After close() no callback runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "captp/internal/net/socket.h"
#include "vat/clock.h"

namespace vatic::captp {

// One descriptor held in reserve (/dev/null, close-on-exec) so that at the
// open-file limit a connection can still be accepted, to be closed.
class ReserveDescriptor {
 public:
  ReserveDescriptor();
  ReserveDescriptor(const ReserveDescriptor&) = delete;
  ReserveDescriptor& operator=(const ReserveDescriptor&) = delete;
  ~ReserveDescriptor();

  bool held() const { return fd_ >= 0; }
  // Closes the spare (if held), freeing one descriptor for the caller.
  void release();
  // Takes a spare again if none is held (best effort: false if it cannot).
  bool reacquire();

 private:
  int fd_ = -1;
};

class AcceptLoop : public std::enable_shared_from_this<AcceptLoop> {
 public:
  static constexpr Duration kFirstBackoff = std::chrono::milliseconds(10);
  static constexpr Duration kMaxBackoff = std::chrono::seconds(1);

  using OnStream = std::function<void(std::unique_ptr<Stream>)>;

  struct Stats {
    std::uint64_t accept_failures = 0;        // failed accepts, each followed by a back-off
    std::uint64_t descriptors_exhausted = 0;  // of which EMFILE or ENFILE
    std::uint64_t shed = 0;                   // connections accepted and closed with the spare descriptor
    std::string last_failure;                 // "accept: Too many open files"
  };

  // `on_stream` gets each accepted connection; `reserve` may be shared by
  // several loops of one Node.
  AcceptLoop(boost::asio::io_context& io, std::unique_ptr<Acceptor> acceptor,
             std::shared_ptr<ReserveDescriptor> reserve, OnStream on_stream);

  void start();
  void close();
  Address local_address() const { return acceptor_->local_address(); }
  const Stats& stats() const { return stats_; }
  // The delay before the next attempt (zero while accepting normally).
  Duration backoff() const { return backoff_; }

 private:
  void arm();
  void on_accept(boost::system::error_code ec, std::unique_ptr<Stream> s);

  std::unique_ptr<Acceptor> acceptor_;
  std::shared_ptr<ReserveDescriptor> reserve_;
  OnStream on_stream_;
  boost::asio::steady_timer retry_;
  Duration backoff_ = Duration::zero();
  Stats stats_;
  bool closed_ = false;
};

}  // namespace vatic::captp
