#include "tools/local_io.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "vat/vat.h"

namespace vatic::cli {

// What the worker and the vat share; the worker holds it past the LocalIo.
struct LocalIo::Shared {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> jobs;
  Vat* vat = nullptr;  // null once the LocalIo is gone: results are dropped
  bool stopping = false;

  // From the worker: runs `settle` in the vat, if it is still there. Under
  // the lock, so the LocalIo cannot go away between the check and the post.
  void settle_in_vat(std::function<void()> settle) {
    std::lock_guard lock(mutex);
    if (vat) vat->post(std::move(settle));
  }

  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (stopping) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }

  void push(std::function<void()> job) {
    {
      std::lock_guard lock(mutex);
      jobs.push_back(std::move(job));
    }
    wake.notify_one();
  }
};

namespace {

std::string why(int err) { return std::strerror(err); }

}  // namespace

LocalIo::LocalIo(Vat& vat) : vat_(&vat), shared_(std::make_shared<Shared>()) {
  shared_->vat = &vat;
  std::thread([s = shared_] { s->run(); }).detach();
}

LocalIo::~LocalIo() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->vat = nullptr;
    shared_->stopping = true;
    shared_->jobs.clear();
  }
  shared_->wake.notify_one();
}

Promise<Bytes> LocalIo::read(int fd, std::size_t max) {
  // Homed in our vat explicitly: a command asks between turns, on the
  // thread that drives the vat, where make_promise has no current vat.
  auto state = detail::new_state<Bytes>(vat_);
  Promise<Bytes> p(state);
  Resolver<Bytes> r(state);
  // Raw: a resolver is only ever touched (settled, or destroyed) on the vat's
  // thread; if the vat is gone, it is left alone (the process is ending).
  auto* resolver = new Resolver<Bytes>(std::move(r));
  std::weak_ptr<Shared> w = shared_;
  shared_->push([w, fd, max, resolver] {
    Bytes data(max);
    std::size_t got = 0;
    int err = 0;
    while (got < max) {
      ssize_t n = ::read(fd, data.data() + got, max - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    auto s = w.lock();
    if (!s) return;
    s->settle_in_vat([resolver, err, data = std::move(data)]() mutable {
      std::unique_ptr<Resolver<Bytes>> own(resolver);
      if (err) return own->reject(Error{ErrorKind::failed, "reading input: " + why(err)});
      own->resolve(std::move(data));
    });
  });
  return p;
}

Promise<void> LocalIo::write(int fd, Bytes data) {
  auto state = detail::new_state<void>(vat_);
  Promise<void> p(state);
  Resolver<void> r(state);
  auto* resolver = new Resolver<void>(std::move(r));  // as in read()
  std::weak_ptr<Shared> w = shared_;
  shared_->push([w, fd, resolver, data = std::make_shared<Bytes>(std::move(data))] {
    const std::uint8_t* at = data->data();
    std::size_t left = data->size();
    int err = 0;
    while (left > 0) {
      ssize_t n = ::write(fd, at, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err = errno;
        break;
      }
      at += n;
      left -= static_cast<std::size_t>(n);
    }
    auto s = w.lock();
    if (!s) return;
    s->settle_in_vat([resolver, err] {
      std::unique_ptr<Resolver<void>> own(resolver);
      if (err) return own->reject(Error{ErrorKind::failed, "writing output: " + why(err)});
      own->resolve();
    });
  });
  return p;
}

}  // namespace vatic::cli
