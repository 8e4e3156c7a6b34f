// PathResolver: finds what a checked FsPath names beneath a directory
// descriptor, without ever leaving it (spec/fs.md, "Resolve"). Two
// implementations, selectable so that tests run one case table against both:
//   openat2: one openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) call; the
//            kernel follows symbolic links that stay beneath the root and
//            refuses the rest: escapes (EXDEV), /proc magic links and more
//            than 40 links (ELOOP, which the walk then diagnoses).
//   walk:    where openat2 is missing (ENOSYS), one openat(O_PATH | O_NOFOLLOW)
//            per component, each checked with fstat before the next step; a
//            link is read (readlinkat) and its target spliced into the names
//            still to walk, by the same rules.
// Link policy (both resolvers): a link is followed, in any position, when its
// target stays inside the tree; an absolute target or one that climbs above
// the root is refused as leaving the directory, as is any link on procfs to
// the walk. Operations that act on an entry itself (remove, rename, create,
// mkdir) resolve its parent and never follow the last name. The resolvers word
// every outcome identically.
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

// fs.md, Resolve 3: the most symbolic links one path may go through (the
// kernel's MAXSYMLINKS, so both resolvers stop at the same link).
inline constexpr int kMaxSymlinks = 40;

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

// The entry `path` names beneath `root` (itself when path.is_self()), links
// followed, the last one too: never a symbolic link. With a trailing slash the
// entry must be a directory.
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

// Where the entry `path` designates lives once links are followed, the last
// one too: the directory holding it and its name there ("." when the path ends
// on a directory reached through a link's ".."), for an *at() call that opens
// it with O_NOFOLLOW. `through_link` says the last name was a link, followed
// (fs.md, "The last name": writes never go through one). The name is not
// checked: a missing one fails in the caller's *at() call.
// Precondition (the caller's): !path.is_self().
struct Target {
  UniqueFd dir;
  std::string name;
  bool through_link = false;
};
Result<Target> resolve_target(int root, const FsPath& path, PathResolver how);

}  // namespace vatic::caps
