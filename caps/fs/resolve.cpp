#include "caps/fs/resolve.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <deque>
#include <utility>
#include <vector>

#include <fmt/format.h>

#ifndef SYS_openat2
#define SYS_openat2 437  // the same number on every architecture
#endif

namespace vatic::caps {
namespace {

// fs.md, Resolve: links are followed beneath the root (no RESOLVE_NO_SYMLINKS);
// /proc magic links never are. RESOLVE_BENEATH would refuse those too (EXDEV)
// but says that may change, so RESOLVE_NO_MAGICLINKS is named.
constexpr std::uint64_t kResolveFlags = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
// openat2 without O_NOFOLLOW: the last link is followed as well.
constexpr int kFollowFlags = O_PATH | O_CLOEXEC;
// The walk looks at every name itself before it goes on.
constexpr int kPathFlags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
// RESOLVE_BENEATH answers EAGAIN when a rename raced the lookup.
constexpr int kRaceRetries = 8;

int sys_openat2(int dir, const char* path, std::uint64_t flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dir, path, &how, sizeof how));
}

UniqueFd dup_fd(int fd) { return UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

Result<Entry> stat_entry(UniqueFd fd, const FsPath& path) {
  Entry e;
  e.fd = std::move(fd);
  if (::fstat(e.fd.get(), &e.st) != 0) return refuse(errno_reason(errno, path.text));
  if (path.trailing_slash && !S_ISDIR(e.st.st_mode)) return refuse(errno_reason(ENOTDIR, path.text));
  return e;
}

Result<Entry> self_entry(int root, const FsPath& path) {
  UniqueFd fd = dup_fd(root);
  if (!fd) return refuse(errno_reason(errno, path.text));
  return stat_entry(std::move(fd), path);
}

// fs.md, Resolve 2 and 4: replaces the link `link` (an O_PATH descriptor of
// it, just fstat'ed, so the target read is that very link's) by its target's
// names at the front of `todo`. True when the target ends in "/" or "/.":
// then it must name a directory.
Result<bool> splice_link(int link, const FsPath& path, std::deque<std::string>& todo) {
  // Magic links are procfs links; from user space they look like any other,
  // so no link on procfs is followed (fs.md, "Two resolvers, one outcome").
  struct statfs fs {};
  if (::fstatfs(link, &fs) != 0) return refuse(errno_reason(errno, path.text));
  if (fs.f_type == PROC_SUPER_MAGIC) return refuse(refused_magic_link(path.text));
  std::string target(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(link, "", target.data(), target.size());
  if (n < 0) return refuse(errno_reason(errno, path.text));
  if (static_cast<std::size_t>(n) >= target.size()) return refuse(errno_reason(ENAMETOOLONG, path.text));
  target.resize(static_cast<std::size_t>(n));
  if (target.empty()) return refuse(errno_reason(ENOENT, path.text));
  if (target.front() == '/') return refuse(refused_escape(path.text));
  std::vector<std::string> names;
  std::size_t start = 0;
  std::string_view last;
  while (start <= target.size()) {
    std::size_t end = std::min(target.find('/', start), target.size());
    std::string_view part = std::string_view(target).substr(start, end - start);
    start = end + 1;
    last = part;
    if (!part.empty() && part != ".") names.emplace_back(part);
  }
  todo.insert(todo.begin(), names.begin(), names.end());
  return last.empty() || last == ".";
}

// Where the walk is: the names of the directories it went down, from the root.
// A ".." (from a link's target: the holder's own were applied by parse_path)
// drops the last name and walks the rest again from the root, rather than
// asking the filesystem for a parent, which a concurrent rename could have
// put outside the tree. Holding only the current directory open keeps a deep
// path from holding a descriptor per level.
class Place {
 public:
  explicit Place(int root) : root_(root) {}
  int at() const noexcept { return cur_ ? cur_.get() : root_; }
  UniqueFd dup_at() const { return dup_fd(at()); }
  void enter(std::string name, UniqueFd dir) {
    names_.push_back(std::move(name));
    cur_ = std::move(dir);
  }
  Result<void> leave(const FsPath& path) {
    if (names_.empty()) return refuse(refused_escape(path.text));  // fs.md, Resolve 2: above the root
    names_.pop_back();
    UniqueFd cur;
    for (const auto& name : names_) {
      UniqueFd next(::openat(cur ? cur.get() : root_, name.c_str(), kPathFlags | O_DIRECTORY));
      if (!next) return refuse(errno_reason(errno, path.text));
      cur = std::move(next);
    }
    cur_ = std::move(cur);
    return {};
  }

 private:
  int root_;
  std::vector<std::string> names_;
  UniqueFd cur_;  // empty at the root
};

struct Found {
  Target target;
  Entry entry;
};

// fs.md, Resolve 1 to 4, by hand: every link is followed, the last one too.
Result<Found> walk(int root, const FsPath& path) {
  std::deque<std::string> todo(path.parts.begin(), path.parts.end());
  Place place(root);
  bool must_be_dir = path.trailing_slash;
  bool through_link = false;
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == "..") {
      if (auto left = place.leave(path); !left.ok()) return refuse(left.error());
      continue;
    }
    const bool last = todo.empty();
    UniqueFd fd(::openat(place.at(), name.c_str(), kPathFlags));
    if (!fd) return refuse(errno_reason(errno, path.text));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return refuse(errno_reason(errno, path.text));
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) return refuse(refused_link_loop(path.text));  // fs.md, Resolve 3
      auto dir_target = splice_link(fd.get(), path, todo);
      if (!dir_target.ok()) return refuse(dir_target.error());
      if (last) {
        through_link = true;
        must_be_dir = must_be_dir || dir_target.value();
      }
      continue;
    }
    if (last) {
      if (must_be_dir && !S_ISDIR(st.st_mode)) return refuse(errno_reason(ENOTDIR, path.text));
      UniqueFd dir = place.dup_at();
      if (!dir) return refuse(errno_reason(errno, path.text));
      return Found{Target{std::move(dir), std::move(name), through_link}, Entry{std::move(fd), st}};
    }
    if (!S_ISDIR(st.st_mode)) return refuse(errno_reason(ENOTDIR, path.text));
    place.enter(std::move(name), std::move(fd));
  }
  // The last link's target ended at a directory by ".." or ".": the walk is in
  // it, and that directory is the entry.
  auto self = self_entry(place.at(), path);
  if (!self.ok()) return refuse(self.error());
  UniqueFd dir = place.dup_at();
  if (!dir) return refuse(errno_reason(errno, path.text));
  return Found{Target{std::move(dir), ".", through_link}, std::move(self.value())};
}

Result<Entry> by_walk(int root, const FsPath& path) {
  auto found = walk(root, path);
  if (!found.ok()) return refuse(found.error());
  return std::move(found.value().entry);
}

Result<Entry> by_openat2(int root, const FsPath& path) {
  std::string rel = path.joined();
  for (int attempt = 0;; ++attempt) {
    int fd = sys_openat2(root, rel.c_str(), kFollowFlags, kResolveFlags);
    if (fd >= 0) return stat_entry(UniqueFd(fd), path);
    int err = errno;
    if (err == EAGAIN && attempt < kRaceRetries) continue;
    if (err == ENOSYS) return by_walk(root, path);
    // EXDEV: the kernel saw the lookup leave the tree (RESOLVE_BENEATH): an
    // absolute link, or a ".." above the root.
    if (err == EXDEV) return refuse(refused_escape(path.text));
    // ELOOP: more than 40 links, or a magic link; the kernel does not say
    // which. The walk, bound by the same rules, names the reason.
    if (err == ELOOP) return by_walk(root, path);
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
  if (!S_ISDIR(r.value().st.st_mode)) return refuse(errno_reason(ENOTDIR, path.text));
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

Result<Target> resolve_target(int root, const FsPath& path, PathResolver how) {
  // The parent is resolved as for any entry; when the last name is not a
  // link, that is all (a missing name fails in the caller's own *at() call).
  auto parent = resolve_parent(root, path, how);
  if (!parent.ok()) return refuse(parent.error());
  struct stat st {};
  Parent& p = parent.value();
  if (::fstatat(p.dir.get(), p.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
    return Target{std::move(p.dir), std::move(p.name), false};
  // A last link. openat2 would open what it leads to but cannot say which
  // directory holds that, and a relative target is relative to the link's own
  // directory, whose place under the root only a walk knows: both resolvers
  // walk here (the walk is bound by the same rules, fs.md "Resolve").
  auto found = walk(root, path);
  if (!found.ok()) return refuse(found.error());
  return std::move(found.value().target);
}

}  // namespace vatic::caps
