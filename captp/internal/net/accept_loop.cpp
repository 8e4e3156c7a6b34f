#include "captp/internal/net/accept_loop.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace vatic::captp {

ReserveDescriptor::ReserveDescriptor() { reacquire(); }

ReserveDescriptor::~ReserveDescriptor() { release(); }

void ReserveDescriptor::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool ReserveDescriptor::reacquire() {
  if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd_ >= 0;
}

AcceptLoop::AcceptLoop(boost::asio::io_context& io, std::unique_ptr<Acceptor> acceptor,
                       std::shared_ptr<ReserveDescriptor> reserve, OnStream on_stream)
    : acceptor_(std::move(acceptor)), reserve_(std::move(reserve)), on_stream_(std::move(on_stream)), retry_(io) {}

void AcceptLoop::start() { arm(); }

void AcceptLoop::close() {
  closed_ = true;
  retry_.cancel();
  acceptor_->close();
}

void AcceptLoop::arm() {
  if (closed_) return;
  acceptor_->async_accept([self = shared_from_this()](boost::system::error_code ec, std::unique_ptr<Stream> s) {
    self->on_accept(ec, std::move(s));
  });
}

void AcceptLoop::on_accept(boost::system::error_code ec, std::unique_ptr<Stream> s) {
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  if (!ec) {
    backoff_ = Duration::zero();
    arm();  // first: on_stream may close us
    on_stream_(std::move(s));
    return;
  }
  ++stats_.accept_failures;
  stats_.last_failure = "accept: " + ec.message();
  if (ec.value() == EMFILE || ec.value() == ENFILE) {
    ++stats_.descriptors_exhausted;
    if (reserve_ && reserve_->held()) {
      reserve_->release();
      if (acceptor_->shed_one()) ++stats_.shed;
      reserve_->reacquire();
    }
  }
  // Any failure backs off: ENOBUFS, ENOMEM and the rest do not clear by
  // retrying at once either.
  backoff_ = backoff_ == Duration::zero() ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  retry_.expires_after(backoff_);
  retry_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
    if (!wait_ec) self->arm();
  });
}

}  // namespace vatic::captp
