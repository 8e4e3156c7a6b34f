// fs_bench: the scratch tree the filesystem workloads serve (fs_bench.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bench/fs_bench.h"

namespace fs_bench {

Bytes pattern_block() {
  // splitmix64: cheap, and incompressible enough that no layer can shortcut it.
  Bytes b(kBlockBytes);
  std::uint64_t x = 0x5eed'f00d'cafe'0001ull;
  for (std::size_t i = 0; i < b.size(); i += 8) {
    std::uint64_t z = (x += 0x9e37'79b9'7f4a'7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11ebull;
    z ^= z >> 31;
    std::memcpy(b.data() + i, &z, 8);
  }
  return b;
}

std::uint64_t fitting_size(const std::string& dir, std::uint64_t want) {
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) != 0) die("statvfs " + dir + ": " + std::strerror(errno));
  std::uint64_t free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= 3 * want) return want;
  // A third of what is free, whole blocks, at least 8 blocks.
  std::uint64_t size = std::max<std::uint64_t>(free_bytes / 3 / kBlockBytes, 8) * kBlockBytes;
  progress(
      "NOTE: only %.2f GiB free under %s (3x the file wanted): the file is %.0f MiB, not %.0f MiB; "
      "the fs.read_* figures use that size",
      static_cast<double>(free_bytes) / (1u << 30), dir.c_str(), static_cast<double>(size) / kBlockBytes,
      static_cast<double>(want) / kBlockBytes);
  return size;
}

void make_big_file(Scratch& s, std::uint64_t size) {
  if (s.big_size) return;
  auto t0 = BenchClock::now();
  int fd = ::open(s.big().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) die("create " + s.big() + ": " + std::strerror(errno));
  for (std::uint64_t at = 0; at < size;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlockBytes, size - at));
    ssize_t w = ::write(fd, s.block.data() + at % kBlockBytes, n);
    if (w <= 0) die("write " + s.big() + ": " + std::strerror(errno));
    at += static_cast<std::uint64_t>(w);
  }
  // Synced now so that writeback does not compete with the timed reads; the
  // pages stay cached, so the reads measure the page cache, not the disk.
  if (::fdatasync(fd) != 0 || ::close(fd) != 0) die("sync " + s.big() + ": " + std::strerror(errno));
  s.big_size = size;
  progress("wrote %s: %.0f MiB in %.1f s", s.big().c_str(), static_cast<double>(size) / kBlockBytes, seconds_since(t0));
}

std::string many_name(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "f%05d", i);
  return name;
}

void make_many(Scratch& s, int count) {
  if (s.many_count) return;
  auto t0 = BenchClock::now();
  if (::mkdir(s.many().c_str(), 0700) != 0) die("mkdir " + s.many() + ": " + std::strerror(errno));
  int dir = ::open(s.many().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) die("open " + s.many() + ": " + std::strerror(errno));
  for (int i = 0; i < count; ++i) {
    int fd = ::openat(dir, many_name(i).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) die("create " + s.many() + "/" + many_name(i) + ": " + std::strerror(errno));
    ::close(fd);
  }
  ::close(dir);
  s.many_count = count;
  progress("made %s with %d files in %.1f s", s.many().c_str(), count, seconds_since(t0));
}

}  // namespace fs_bench
