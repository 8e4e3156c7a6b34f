#include "tools/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "sturdyrefs/store.h"
#include "tools/cli_util.h"

namespace vatic::cli {
namespace {

std::string os_error(int err) {
  std::string s = std::strerror(err);
  if (s.size() > 1 && s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z')) s[0] = static_cast<char>(s[0] + 32);
  return s;
}

// The holder's pid as it wrote it, or "unknown" (it may not have written it yet).
std::string holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  return digits ? text : std::string("unknown");
}

}  // namespace

StoreLock StoreLock::acquire(const std::filesystem::path& store_dir) {
  std::error_code ec;
  if (store_dir.has_parent_path()) std::filesystem::create_directories(store_dir.parent_path(), ec);
  if (::mkdir(store_dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw CliError(kOther, fmt::format("store {}: cannot create: {}", store_dir.string(), os_error(errno)));
  auto file = store_dir / sturdyrefs::kStoreLockFile;
  // O_NOFOLLOW: a symlink planted as serve.lock is refused, never written through.
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw CliError(kOther, fmt::format("cannot lock {}: {}", file.string(), os_error(errno)));
  StoreLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK)
      throw CliError(kOther, fmt::format("store {} is in use by another vatic serve (pid {}); stop it first, or "
                                         "serve with another --store",
                                         store_dir.string(), holder_pid(fd)));
    throw CliError(kOther, fmt::format("cannot lock {}: {}", file.string(), os_error(err)));
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    throw CliError(kOther, fmt::format("cannot write {}: {}", file.string(), os_error(errno)));
  return lock;
}

StoreLock::StoreLock(StoreLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

StoreLock::~StoreLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace vatic::cli
