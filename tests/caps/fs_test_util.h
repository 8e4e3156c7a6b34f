// Shared by the scoped-filesystem tests (tests/caps/fs_*_test.cpp and
// tests/attacks/fs_attack_test.cpp): a fresh directory under /tmp per test,
// helpers to populate it with real files, symlinks and FIFOs, a vat with a
// FileIo, and byte sinks. Everything runs on the test thread except the
// FileIo's pool threads.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caps/fs/directory.h"
#include "caps/fs/file_io.h"
#include "vat/byte_sink.h"
#include "vat/vatic.h"

namespace vatic::caps::test {

inline void PrintTo(const Error& e, std::ostream* os) { *os << to_string(e); }

class TempTree {
 public:
  TempTree() {
    std::string tmpl = "/tmp/vatic-fs-XXXXXX";
    if (!::mkdtemp(tmpl.data())) ADD_FAILURE() << "mkdtemp failed";
    root_ = tmpl;
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);  // never follows symlinks
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(std::string_view rel) const { return root_ + "/" + std::string(rel); }

  void write(std::string_view rel, std::string_view data) const { std::ofstream(path(rel), std::ios::binary) << data; }
  void mkdir(std::string_view rel) const { ASSERT_EQ(::mkdir(path(rel).c_str(), 0755), 0) << rel; }
  void symlink(std::string_view target, std::string_view rel) const {
    ASSERT_EQ(::symlink(std::string(target).c_str(), path(rel).c_str()), 0) << rel;
  }
  void mkfifo(std::string_view rel) const { ASSERT_EQ(::mkfifo(path(rel).c_str(), 0644), 0) << rel; }
  std::string read(std::string_view rel) const {
    std::ifstream in(path(rel), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool exists(std::string_view rel) const {
    struct stat st {};
    return ::lstat(path(rel).c_str(), &st) == 0;
  }

 private:
  std::string root_;
};

inline int count_open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n - 1;  // the DIR's own descriptor
}

inline Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string text_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

// A vat, its FileIo (destroyed first) and a temp tree; `open` serves the tree.
// Asking for io_uring takes it where it works (check io.backend() and skip).
struct FsWorld {
  explicit FsWorld(std::optional<FileIoBackend> backend = std::nullopt)
      : io(vat, FileIoOptions{.backend = backend == FileIoBackend::io_uring ? std::nullopt : backend}) {}
  bool lacks(FileIoBackend wanted) const { return io.backend() != wanted; }

  Ref<Directory> open(FsOps ops = kAllFsOps, std::optional<std::uint64_t> max_bytes = std::nullopt,
                      std::optional<PathResolver> resolver = std::nullopt) {
    return open_directory(vat, io, tree.root(), ops, max_bytes, resolver);
  }
  template <class T>
  T get(Promise<T> p) {
    return vat.wait(std::move(p));
  }
  // The reason a promise broke with (fails the test if it did not break).
  template <class T>
  std::string reason(Promise<T> p) {
    try {
      vat.wait(std::move(p));
    } catch (const VatError& e) {
      EXPECT_EQ(e.error().kind, ErrorKind::failed);
      return e.error().reason;
    }
    ADD_FAILURE() << "expected the call to fail";
    return {};
  }

  TempTree tree;
  Vat vat{VatOptions{.name = "fs", .spin_before_block = Duration::zero()}};
  FileIo io;
};

// What a test sink saw; owned by the test, outlives the sink.
struct SinkLog {
  Bytes data;
  int writes = 0;
  int dones = 0;                     // end() calls
  std::vector<std::string> aborts;   // abort() reasons
  std::vector<Resolver<void>> acks;  // SlowSink: writes not yet acknowledged
  std::size_t max_outstanding = 0;

  // SlowSink: acknowledges the oldest write; false when none waits.
  bool ack_one() {
    if (acks.empty()) return false;
    auto r = std::move(acks.front());
    acks.erase(acks.begin());
    r.resolve();
    return true;
  }
};

// Collects a stream; acknowledges each write at once.
class CollectSink : public ByteSink {
 public:
  explicit CollectSink(SinkLog* log) : log_(log) {}
  Promise<void> write(Bytes chunk) override {
    ++log_->writes;
    log_->data.insert(log_->data.end(), chunk.begin(), chunk.end());
    return Promise<void>::resolved();
  }
  Promise<void> end() override {
    ++log_->dones;
    return Promise<void>::resolved();
  }
  void abort(std::string reason) override { log_->aborts.push_back(std::move(reason)); }

 private:
  SinkLog* log_;
};

// Acknowledges a write only when the test calls log.ack_one(), and records the
// most writes ever unacknowledged at once.
class SlowSink : public ByteSink {
 public:
  explicit SlowSink(SinkLog* log) : log_(log) {}
  Promise<void> write(Bytes chunk) override {
    ++log_->writes;
    log_->data.insert(log_->data.end(), chunk.begin(), chunk.end());
    auto [p, r] = make_promise<void>();
    log_->acks.push_back(std::move(r));
    log_->max_outstanding = std::max(log_->max_outstanding, log_->acks.size());
    return p;
  }
  Promise<void> end() override {
    ++log_->dones;
    return Promise<void>::resolved();
  }
  void abort(std::string reason) override { log_->aborts.push_back(std::move(reason)); }

 private:
  SinkLog* log_;
};

// Refuses every write.
class FailingSink : public ByteSink {
 public:
  explicit FailingSink(SinkLog* log) : log_(log) {}
  Promise<void> write(Bytes) override {
    ++log_->writes;
    throw_error(ErrorKind::failed, "disk full");
  }
  Promise<void> end() override {
    ++log_->dones;
    return Promise<void>::resolved();
  }
  void abort(std::string reason) override { log_->aborts.push_back(std::move(reason)); }

 private:
  SinkLog* log_;
};

}  // namespace vatic::caps::test
