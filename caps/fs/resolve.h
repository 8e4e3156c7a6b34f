// PathResolver: finds what a checked FsPath names beneath a directory descriptor,
// without ever leaving it. Two implementations, selectable so that tests run
// one case table against both:
//   openat2: one openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
//            RESOLVE_NO_SYMLINKS) call; the kernel refuses escapes (EXDEV),
//            symlinks (ELOOP) and /proc magic links.
//   walk:    where openat2 is missing (ENOSYS), one openat(O_PATH | O_NOFOLLOW)
//            per component, each checked with fstat before the next step.
// Symlink policy (both resolvers): no symbolic link is ever followed, inside the
// tree or out. A symlink as an intermediate component is refused; as the last
// component it is returned as itself (O_PATH | O_NOFOLLOW), so the caller can
// stat it as "other", remove or rename it (those act on the entry), and refuses
// to open, list or enter it. The resolvers word every outcome identically.
//
// Synchronous, short metadata syscalls run on the calling (vat) thread. Every
// descriptor is O_CLOEXEC and owned by a UniqueFd from the moment it exists.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "caps/fs/path.h"
#include "caps/fs/unique_fd.h"

namespace vatic::caps {

enum class PathResolver : std::uint8_t { openat2, walk };

std::string_view to_string(PathResolver r) noexcept;
// Whether openat2 works here (one probing openat2 of "." beneath `dir`, not
// cached: a seccomp filter may refuse it even on a kernel that has it).
bool openat2_supported(int dir);
// openat2 when supported, else walk.
PathResolver detect_resolver(int dir);

// An O_PATH descriptor of the entry a path names and its lstat.
struct Entry {
  UniqueFd fd;
  struct stat st {};
};

// The entry `path` names beneath `root` (itself when path.is_self()). A final
// symlink comes back as itself; with a trailing slash the entry must be a
// directory.
Result<Entry> resolve_entry(int root, const FsPath& path, PathResolver how);

// The directory that holds `path`'s last component, and that name. Every
// operation on the name itself uses *at() calls that do not follow it.
// Precondition (the caller's): !path.is_self().
struct Parent {
  UniqueFd dir;
  std::string name;
};
Result<Parent> resolve_parent(int root, const FsPath& path, PathResolver how);

// resolve_entry, then requires a directory: an O_PATH descriptor of it.
Result<Entry> resolve_directory(int root, const FsPath& path, PathResolver how);

}  // namespace vatic::caps
