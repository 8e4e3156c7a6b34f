// SmallTmpfs: a 2 MiB tmpfs mounted for one test, to make a disk fill up for
// real (ENOSPC from the kernel, not a simulation). Mounting needs root (and a
// kernel that lets this namespace mount): elsewhere `mounted()` is false and
// the test skips with `why_not()`. Unmounted (lazily, so a process still in it
// cannot keep it busy) and removed by the destructor.
//
// Threads: the test thread.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace vatic::test {

class SmallTmpfs {
 public:
  explicit SmallTmpfs(std::filesystem::path dir, const char* size = "size=2m") : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    if (::geteuid() != 0) {
      why_not_ = "needs root to mount a small tmpfs";
    } else if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, size) != 0) {
      why_not_ = std::string("cannot mount a tmpfs here: ") + std::strerror(errno);
    } else {
      mounted_ = true;
    }
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_not_; }
  const std::filesystem::path& path() const { return dir_; }

  // Writes a filler file until the kernel says ENOSPC, down to the last byte.
  // Returns false if it never did (then the test cannot say anything).
  bool fill() {
    auto filler = dir_ / ".filler";
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    std::vector<char> block(4096, 'f');
    bool full = false;
    for (std::size_t chunk : {block.size(), std::size_t{1}}) {
      for (;;) {
        ssize_t n = ::write(fd, block.data(), chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          full = errno == ENOSPC;
          break;
        }
      }
    }
    ::close(fd);
    return full;
  }
  void free_filler() { std::filesystem::remove(dir_ / ".filler"); }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string why_not_;
};

}  // namespace vatic::test
