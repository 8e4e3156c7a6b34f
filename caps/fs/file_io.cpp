#include "caps/fs/file_io.h"

#include <liburing.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/random_access_file.hpp>
#include <boost/asio/read_at.hpp>
#include <boost/asio/write_at.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "vat/vat.h"

namespace vatic::caps {
namespace {

struct Outcome {
  Bytes data;
  std::string error;  // empty on success
};

// Operations in flight, by id. Completions carry only the id (and a shared
// pointer to this table), so a PathResolver is never touched off the vat's thread
// and a completion arriving after the FileIo is gone finds nothing to settle.
class Pending {
 public:
  using Slot = std::variant<Resolver<Bytes>, Resolver<void>>;

  std::uint64_t add(Slot r, std::string what, std::size_t bytes) {
    std::uint64_t id = next_++;
    ops_.emplace(id, Op{std::move(r), std::move(what), bytes});
    bytes_ += bytes;
    return id;
  }
  // Bytes held by operations in flight (read buffers, data being written).
  std::size_t bytes() const noexcept { return bytes_; }
  void complete(std::uint64_t id, Outcome o) {
    auto it = ops_.find(id);
    if (it == ops_.end()) return;
    Op op = std::move(it->second);
    bytes_ -= op.bytes;
    ops_.erase(it);
    if (!o.error.empty()) {
      std::visit([&](auto& r) { r.reject(Error{ErrorKind::failed, fmt::format("{}: {}", op.what, o.error)}); }, op.r);
    } else if (auto* bytes = std::get_if<Resolver<Bytes>>(&op.r)) {
      bytes->resolve(std::move(o.data));
    } else {
      std::get<Resolver<void>>(op.r).resolve();
    }
  }
  void abandon_all() {
    auto ops = std::move(ops_);
    ops_.clear();
    bytes_ = 0;
    for (auto& entry : ops) {
      // Not a structured binding: clang 14 cannot capture those in a lambda.
      Op& op = entry.second;
      std::visit([&](auto& r) { r.reject(Error{ErrorKind::disconnected, op.what + ": file I/O stopped"}); }, op.r);
    }
  }

 private:
  struct Op {
    Slot r;
    std::string what;
    std::size_t bytes = 0;
  };
  std::unordered_map<std::uint64_t, Op> ops_;
  std::size_t bytes_ = 0;
  std::uint64_t next_ = 1;
};

// A full disk is worded as path.h's errno_reason words it, so that every
// layer says "no space left on device" the same way (scripts match it).
std::string errno_text(int err) {
  if (err == ENOSPC) return "no space left on device";
  return std::system_category().message(err);
}

std::string error_text(const boost::system::error_code& ec) {
  if (ec == boost::system::errc::no_space_on_device) return errno_text(ENOSPC);
  return ec.message();
}

Outcome pread_full(int fd, std::uint64_t offset, std::size_t length) {
  Outcome o;
  o.data.resize(length);
  std::size_t got = 0;
  while (got < length) {
    ssize_t n = ::pread(fd, o.data.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Outcome{{}, errno_text(errno)};
    if (n == 0) break;  // end of file
    got += static_cast<std::size_t>(n);
  }
  o.data.resize(got);
  return o;
}

Outcome pwrite_full(int fd, std::uint64_t offset, const Bytes& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Outcome{{}, errno_text(errno)};
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// A fixed set of threads draining one queue. Jobs still queued at destruction
// are dropped (their promises break when the FileIo abandons them).
class Pool {
 public:
  explicit Pool(std::size_t n) {
    for (std::size_t i = 0; i < std::max<std::size_t>(n, 1); ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// The pool's jobs share the descriptor, so releasing the File while a pread
// runs cannot close (and let the kernel reuse) the number under it.
// Counts the open handles of one FileIo; each handle holds it, so it outlives
// the FileIo if a handle does.
using OpenCount = std::shared_ptr<std::size_t>;

class Counted {
 public:
  explicit Counted(OpenCount c) : c_(std::move(c)) { ++*c_; }
  ~Counted() { --*c_; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;

 private:
  OpenCount c_;
};

class PoolHandle final : public FileHandle {
 public:
  PoolHandle(UniqueFd fd, OpenCount c) : count_(std::move(c)), fd_(std::make_shared<UniqueFd>(std::move(fd))) {}
  int fd() const noexcept override { return fd_->get(); }
  const std::shared_ptr<UniqueFd>& shared() const noexcept { return fd_; }

 private:
  Counted count_;
  std::shared_ptr<UniqueFd> fd_;
};

class UringHandle final : public FileHandle {
 public:
  UringHandle(boost::asio::io_context& io, OpenCount c) : count_(std::move(c)), file_(io) {}
  int fd() const noexcept override { return file_.native_handle(); }
  boost::asio::random_access_file& file() noexcept { return file_; }

 private:
  Counted count_;
  mutable boost::asio::random_access_file file_;  // native_handle() is not const in Asio
};

// Empty when io_uring works here, else why not.
std::string probe_io_uring(boost::asio::io_context& io) {
  io_uring ring{};
  if (int e = ::io_uring_queue_init(4, &ring, 0); e < 0) return "io_uring_queue_init: " + errno_text(-e);
  std::string why;
  io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
  ::io_uring_prep_nop(sqe);
  io_uring_cqe* cqe = nullptr;
  if (int e = ::io_uring_submit_and_wait(&ring, 1); e < 0) {
    why = "io_uring_submit: " + errno_text(-e);
  } else if (int w = ::io_uring_peek_cqe(&ring, &cqe); w < 0 || !cqe) {
    why = "io_uring: no completion for a NOP";
  } else if (cqe->res < 0) {
    why = "io_uring NOP: " + errno_text(-cqe->res);
  }
  if (cqe) ::io_uring_cqe_seen(&ring, cqe);
  ::io_uring_queue_exit(&ring);
  if (!why.empty()) return why;
  try {
    boost::asio::random_access_file scratch(io);  // brings up Asio's io_uring service
  } catch (const std::exception& e) {
    return std::string("Asio file service: ") + e.what();
  }
  return {};
}

}  // namespace

std::string_view to_string(FileIoBackend b) noexcept {
  switch (b) {
    case FileIoBackend::io_uring: return "io_uring";
    case FileIoBackend::thread_pool: return "thread_pool";
  }
  return "?";
}

struct FileIo::Impl {
  Vat& vat;
  FileIoBackend backend = FileIoBackend::thread_pool;
  std::string fallback_reason;
  std::shared_ptr<Pending> pending = std::make_shared<Pending>();
  std::unique_ptr<Pool> pool;  // thread_pool backend only
  OpenCount open_files = std::make_shared<std::size_t>(0);
  std::size_t max_bytes_in_flight, max_open_files;

  Impl(Vat& v, const FileIoOptions& o)
      : vat(v), max_bytes_in_flight(o.max_bytes_in_flight), max_open_files(o.max_open_files) {
    // Holders must run out before the process does: sockets, the store and
    // the rest of the vat need descriptors too. Half the soft limit at most.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      max_open_files = std::min<std::size_t>(max_open_files, rl.rlim_cur / 2);
  }

  // Peers choose how much I/O they ask for: past the budget, calls break at
  // once with `overloaded` (retry later) instead of pinning memory.
  std::optional<Error> admit(std::size_t bytes, const std::string& what) const {
    if (pending->bytes() + bytes <= max_bytes_in_flight) return std::nullopt;
    return Error{ErrorKind::overloaded, fmt::format("{}: too much file I/O in flight; retry later", what)};
  }
};

FileIo::FileIo(Vat& vat, FileIoOptions options) : impl_(std::make_unique<Impl>(vat, options)) {
  auto want = options.backend;
  if (want != FileIoBackend::thread_pool) {
    impl_->fallback_reason = probe_io_uring(vat.io());
    if (impl_->fallback_reason.empty()) {
      impl_->backend = FileIoBackend::io_uring;
    } else if (want == FileIoBackend::io_uring) {
      throw_error(ErrorKind::failed, "io_uring is not available: " + impl_->fallback_reason);
    }
  } else {
    impl_->fallback_reason = "thread pool forced";
  }
  if (impl_->backend == FileIoBackend::thread_pool) impl_->pool = std::make_unique<Pool>(options.threads);
}

FileIo::~FileIo() {
  impl_->pool.reset();  // joins: no pool thread holds a job after this
  impl_->pending->abandon_all();
}

Vat& FileIo::vat() const noexcept { return impl_->vat; }
FileIoBackend FileIo::backend() const noexcept { return impl_->backend; }
const std::string& FileIo::fallback_reason() const noexcept { return impl_->fallback_reason; }

std::shared_ptr<const void> FileIo::hold_descriptor() {
  if (*impl_->open_files >= impl_->max_open_files)
    throw_error(ErrorKind::overloaded, "too many open files; release some and retry");
  return std::make_shared<Counted>(impl_->open_files);
}

std::unique_ptr<FileHandle> FileIo::adopt(UniqueFd fd) {
  if (*impl_->open_files >= impl_->max_open_files)
    throw_error(ErrorKind::overloaded, "too many open files; release some and retry");
  if (impl_->backend == FileIoBackend::thread_pool)
    return std::make_unique<PoolHandle>(std::move(fd), impl_->open_files);
  auto h = std::make_unique<UringHandle>(impl_->vat.io(), impl_->open_files);
  boost::system::error_code ec;
  h->file().assign(fd.get(), ec);
  if (ec) throw_error(ErrorKind::failed, "registering a file with io_uring: " + ec.message());
  fd.release();  // the random_access_file owns it now
  return h;
}

Promise<Bytes> FileIo::read(FileHandle& file, std::uint64_t offset, std::size_t length, std::string what) {
  if (length == 0) return Promise<Bytes>::resolved(Bytes{});
  if (auto busy = impl_->admit(length, what)) return Promise<Bytes>::broken(*busy);
  auto [promise, resolver] = make_promise<Bytes>();
  std::uint64_t id = impl_->pending->add(std::move(resolver), std::move(what), length);
  auto pending = impl_->pending;
  if (impl_->backend == FileIoBackend::io_uring) {
    // TODO(perf): the vector zero-fills the `length` bytes the read then
    // overwrites (one memset per chunk of a bulk read). Avoiding it needs a
    // buffer type with default-initialised bytes, or chunks recycled after send.
    auto buf = std::make_shared<Bytes>(length);
    boost::asio::async_read_at(static_cast<UringHandle&>(file).file(), offset, boost::asio::buffer(*buf),
                               [buf, id, pending](const boost::system::error_code& ec, std::size_t n) {
                                 Outcome o;
                                 if (ec && ec != boost::asio::error::eof) {
                                   o.error = error_text(ec);
                                 } else {
                                   buf->resize(n);
                                   o.data = std::move(*buf);
                                 }
                                 pending->complete(id, std::move(o));
                               });
    return promise;
  }
  Vat* vat = &impl_->vat;
  impl_->pool->submit([fd = static_cast<PoolHandle&>(file).shared(), offset, length, id, pending, vat] {
    Outcome o = pread_full(fd->get(), offset, length);
    vat->post([pending, id, o = std::move(o)]() mutable { pending->complete(id, std::move(o)); });
  });
  return promise;
}

Promise<void> FileIo::write(FileHandle& file, std::uint64_t offset, Bytes data, std::string what) {
  if (data.empty()) return Promise<void>::resolved();
  if (auto busy = impl_->admit(data.size(), what)) return Promise<void>::broken(*busy);
  auto [promise, resolver] = make_promise<void>();
  std::uint64_t id = impl_->pending->add(std::move(resolver), std::move(what), data.size());
  auto pending = impl_->pending;
  if (impl_->backend == FileIoBackend::io_uring) {
    auto buf = std::make_shared<Bytes>(std::move(data));
    boost::asio::async_write_at(static_cast<UringHandle&>(file).file(), offset, boost::asio::buffer(*buf),
                                [buf, id, pending](const boost::system::error_code& ec, std::size_t) {
                                  pending->complete(id, Outcome{{}, ec ? error_text(ec) : std::string()});
                                });
    return promise;
  }
  Vat* vat = &impl_->vat;
  impl_->pool->submit([fd = static_cast<PoolHandle&>(file).shared(), offset, data = std::move(data), id, pending, vat] {
    Outcome o = pwrite_full(fd->get(), offset, data);
    vat->post([pending, id, o = std::move(o)]() mutable { pending->complete(id, std::move(o)); });
  });
  return promise;
}

}  // namespace vatic::caps
