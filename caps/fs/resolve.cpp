#include "caps/fs/resolve.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <fmt/format.h>

#ifndef SYS_openat2
#define SYS_openat2 437  // the same number on every architecture
#endif

namespace vatic::caps {
namespace {

// RESOLVE_NO_SYMLINKS implies RESOLVE_NO_MAGICLINKS; both are named so that
// dropping the first (to allow symlinks inside the tree) keeps the second.
constexpr std::uint64_t kResolveFlags = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
constexpr int kPathFlags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
// RESOLVE_BENEATH answers EAGAIN when a rename raced the lookup.
constexpr int kRaceRetries = 8;

int sys_openat2(int dir, const char* path, std::uint64_t flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dir, path, &how, sizeof how));
}

Result<Entry> stat_entry(UniqueFd fd, const FsPath& path) {
  Entry e;
  e.fd = std::move(fd);
  if (::fstat(e.fd.get(), &e.st) != 0) return refuse(errno_reason(errno, path.text));
  if (path.trailing_slash && !S_ISDIR(e.st.st_mode)) {
    return refuse(S_ISLNK(e.st.st_mode) ? refused_symlink(path.text) : errno_reason(ENOTDIR, path.text));
  }
  return e;
}

Result<Entry> self_entry(int root, const FsPath& path) {
  UniqueFd fd(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (!fd) return refuse(errno_reason(errno, path.text));
  return stat_entry(std::move(fd), path);
}

Result<Entry> by_walk(int root, const FsPath& path) {
  UniqueFd cur;
  int at = root;
  for (std::size_t i = 0; i < path.parts.size(); ++i) {
    UniqueFd next(::openat(at, path.parts[i].c_str(), kPathFlags));
    if (!next) return refuse(errno_reason(errno, path.text));
    if (i + 1 == path.parts.size()) return stat_entry(std::move(next), path);
    struct stat st {};
    if (::fstat(next.get(), &st) != 0) return refuse(errno_reason(errno, path.text));
    if (S_ISLNK(st.st_mode)) return refuse(refused_symlink(path.text));
    if (!S_ISDIR(st.st_mode)) return refuse(errno_reason(ENOTDIR, path.text));
    cur = std::move(next);
    at = cur.get();
  }
  return self_entry(root, path);  // unreachable for a non-empty path; kept total
}

Result<Entry> by_openat2(int root, const FsPath& path) {
  std::string rel = path.joined();
  for (int attempt = 0;; ++attempt) {
    int fd = sys_openat2(root, rel.c_str(), kPathFlags, kResolveFlags);
    if (fd >= 0) return stat_entry(UniqueFd(fd), path);
    int err = errno;
    if (err == EAGAIN && attempt < kRaceRetries) continue;
    if (err == ENOSYS) return by_walk(root, path);
    // EXDEV: the kernel saw the lookup leave the tree (RESOLVE_BENEATH).
    if (err == EXDEV) return refuse(refused_escape(path.text));
    // ELOOP: RESOLVE_NO_SYMLINKS met a symlink on the way (errno_reason words it).
    return refuse(errno_reason(err, path.text));
  }
}

}  // namespace

std::string_view to_string(PathResolver r) noexcept {
  switch (r) {
    case PathResolver::openat2: return "openat2";
    case PathResolver::walk: return "walk";
  }
  return "?";
}

bool openat2_supported(int dir) {
  int fd = sys_openat2(dir, ".", kPathFlags, kResolveFlags);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

PathResolver detect_resolver(int dir) { return openat2_supported(dir) ? PathResolver::openat2 : PathResolver::walk; }

Result<Entry> resolve_entry(int root, const FsPath& path, PathResolver how) {
  if (path.is_self()) return self_entry(root, path);
  return how == PathResolver::openat2 ? by_openat2(root, path) : by_walk(root, path);
}

Result<Entry> resolve_directory(int root, const FsPath& path, PathResolver how) {
  auto r = resolve_entry(root, path, how);
  if (!r.ok()) return r;
  auto mode = r.value().st.st_mode;
  if (S_ISLNK(mode)) return refuse(refused_symlink(path.text));
  if (!S_ISDIR(mode)) return refuse(errno_reason(ENOTDIR, path.text));
  return r;
}

Result<Parent> resolve_parent(int root, const FsPath& path, PathResolver how) {
  if (path.is_self()) return refuse(fmt::format("invalid path: {:?} names the directory itself", path.text));
  FsPath up;
  up.text = path.text;  // messages name the holder's whole path
  up.parts.assign(path.parts.begin(), path.parts.end() - 1);
  auto dir = resolve_directory(root, up, how);
  if (!dir.ok()) return refuse(dir.error());
  return Parent{std::move(dir.value().fd), path.parts.back()};
}

}  // namespace vatic::caps
