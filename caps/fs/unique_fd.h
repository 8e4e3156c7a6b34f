// UniqueFd: sole ownership of one file descriptor, closed when the owner goes.
// Every descriptor the scoped filesystem opens lives in one of these from the
// moment the syscall returns, so a capability's descriptor is closed exactly
// when the object holding it is released, and a failed resolution leaks
// nothing. Owned by one object or one stack frame; not shared between threads
// (the file I/O pool shares a descriptor through a shared_ptr instead).
#pragma once

#include <unistd.h>

#include <utility>

namespace vatic::caps {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    // close() is not retried on EINTR: on Linux the descriptor is gone either way.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace vatic::caps
